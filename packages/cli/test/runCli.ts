import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { vi } from "vitest"
import { runDanlu } from "../src/cli.js"

export interface CliResult {
  readonly ok: boolean
  /** Everything the command printed with console.log, one line per call. */
  readonly output: string
  /** The typed error a failed command ended with (what main.ts prints as `danlu: <message>`). */
  readonly error: { readonly _tag: string; readonly message: string } | undefined
}

/** Runs `danlu …args` in-process with Node's services, capturing what it prints. */
export const runCli = async (args: ReadonlyArray<string>): Promise<CliResult> => {
  const printed: Array<string> = []
  const spy = vi.spyOn(console, "log").mockImplementation((...parts: Array<unknown>) => {
    printed.push(parts.join(" "))
  })
  try {
    const exit = await Effect.runPromise(runDanlu(args).pipe(Effect.provide(NodeServices.layer), Effect.exit))
    const failure = Exit.isFailure(exit) ? exit.cause.reasons.find(Cause.isFailReason)?.error : undefined
    return {
      ok: Exit.isSuccess(exit),
      output: printed.join("\n"),
      error: failure as CliResult["error"],
    }
  } finally {
    spy.mockRestore()
  }
}
