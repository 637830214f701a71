#!/usr/bin/env node
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { runDanlu } from "./cli.js"
import { oneLineErrors } from "./oneLineErrors.js"
import { isUserFacing } from "./userError.js"

const program = runDanlu(process.argv.slice(2)).pipe(
  Effect.provide(oneLineErrors()),
  Effect.provide(NodeServices.layer),
  Effect.exit,
  Effect.tap((exit) => {
    if (Exit.isSuccess(exit)) return Effect.void
    const failure = exit.cause.reasons.find(Cause.isFailReason)
    const error = failure?.error
    if (isUserFacing(error)) {
      if (error._tag !== "ShowHelp") process.stderr.write(`danlu: ${error.message}\n`)
    } else {
      process.stderr.write(`danlu: internal error\n${Cause.pretty(exit.cause)}\n`)
    }
    process.exitCode = 1
    return Effect.void
  }),
)

NodeRuntime.runMain(program, { disableErrorReporting: true })
