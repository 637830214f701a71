import { Effect } from "effect"
import { Command } from "effect/cli"
import { demo } from "./commands/demo.js"
import { run as runCommand } from "./commands/run.js"
import { withFlagHint } from "./flagHints.js"
import { stepCommands } from "./steps.js"
import { expandKohyaLists, keepLastFlagValues } from "./train/flags.js"
import { version } from "./version.js"

/** The root `danlu` command: the pipeline's steps, `run` (all of them from one config) and `demo`. */
export const danlu = Command.make("danlu").pipe(
  Command.withDescription("丹炉 — train Stable Diffusion LoRAs on any backend."),
  Command.withSubcommands([...stepCommands, runCommand, demo]),
)

const run = Command.runWith(danlu, { version })

/** Runs `danlu` on an argument list (without `node` and the script path); errors name the flag that fixes them. */
export const runDanlu = (args: ReadonlyArray<string>) =>
  run(args[0] === "train" || args[0] === "finetune" ? expandKohyaLists(keepLastFlagValues(args)) : args).pipe(
    Effect.mapError(withFlagHint),
  )
