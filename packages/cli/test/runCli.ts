import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { vi } from "vitest"
import { runDanlu } from "../src/cli.js"
import { oneLineErrors } from "../src/oneLineErrors.js"

export interface CliResult {
  readonly ok: boolean
  /** Everything the command printed with console.log, one line per call. */
  readonly output: string
  /** Everything printed with console.error. */
  readonly errorOutput: string
  /** The typed error a failed command ended with (what main.ts prints as `danlu: <message>`). */
  readonly error: { readonly _tag: string; readonly message: string } | undefined
}

/** Runs `danlu …args` in-process with Node's services, capturing what it prints. */
export const runCli = async (args: ReadonlyArray<string>): Promise<CliResult> => {
  const printed: Array<string> = []
  const errors: Array<string> = []
  const spy = vi.spyOn(console, "log").mockImplementation((...parts: Array<unknown>) => {
    printed.push(parts.join(" "))
  })
  const errorSpy = vi.spyOn(console, "error").mockImplementation((...parts: Array<unknown>) => {
    errors.push(parts.join(" "))
  })
  try {
    const exit = await Effect.runPromise(
      runDanlu(args).pipe(Effect.provide(oneLineErrors()), Effect.provide(NodeServices.layer), Effect.exit),
    )
    // A help page is printed at the end of the tick it was held in.
    await new Promise((resolve) => setTimeout(resolve, 0))
    const failure = Exit.isFailure(exit) ? exit.cause.reasons.find(Cause.isFailReason)?.error : undefined
    return {
      ok: Exit.isSuccess(exit),
      output: printed.join("\n"),
      errorOutput: errors.join("\n"),
      error: failure as CliResult["error"],
    }
  } finally {
    spy.mockRestore()
    errorSpy.mockRestore()
  }
}
