import { type ProgressEvent, withProgress } from "@danlu/core"
import { renderProgress } from "./renderProgress.js"

/**
 * Shows a command's progress on stderr: a bar on a terminal, plain lines otherwise, or with `--json` one
 * JSON object per event on `jsonTo` (stdout where the events are the command's output, as for `train`;
 * stderr where stdout carries the command's own JSON report).
 */
export const showProgress = (options: { readonly json: boolean; readonly jsonTo?: "stdout" | "stderr" }) => {
  const stream = options.json && options.jsonTo === "stdout" ? process.stdout : process.stderr
  const render = renderProgress({
    mode: options.json ? "json" : process.stderr.isTTY === true ? "tty" : "plain",
    write: (text) => stream.write(text),
    columns: process.stderr.columns,
  })
  return withProgress((event: ProgressEvent) => render(event))
}
