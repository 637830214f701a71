import { Command } from "effect/cli"
import { backends } from "./commands/backends.js"
import { bench } from "./commands/bench.js"
import { config } from "./commands/config.js"
import { dataset } from "./commands/dataset.js"
import { finetuneCommand } from "./commands/finetune.js"
import { generate } from "./commands/generate.js"
import { init } from "./commands/init.js"
import { model } from "./commands/model.js"
import { tag } from "./commands/tag.js"
import { tags } from "./commands/tags.js"
import { trainCommand } from "./commands/train.js"
import { xyz } from "./commands/xyz.js"
import { version } from "./version.js"

/**
 * One sub-command per step of the guide, in its order: backend → base model → dataset → tagging →
 * parameters → training → validation.
 */
export const stepCommands = [
  backends,
  model,
  dataset,
  tag,
  tags,
  init,
  config,
  trainCommand,
  finetuneCommand,
  generate,
  xyz,
  bench,
] as const

/** Runs one step command as `danlu <args>` would, for commands that walk several steps (`run`, `demo`). */
export const runStep = Command.runWith(Command.make("danlu").pipe(Command.withSubcommands(stepCommands)), {
  version,
})
