import { Command } from "effect/cli"
import { backends } from "./commands/backends.js"
import { dataset } from "./commands/dataset.js"
import { model } from "./commands/model.js"
import { tag } from "./commands/tag.js"
import { tags } from "./commands/tags.js"
import { version } from "./version.js"

/**
 * The root `danlu` command. Each pipeline step adds its sub-command here, in the order of the guide:
 * backend → base model → dataset → tagging → parameters → training → validation.
 */
export const danlu = Command.make("danlu").pipe(
  Command.withDescription("丹炉 — train Stable Diffusion LoRAs on any backend."),
  Command.withSubcommands([backends, model, dataset, tag, tags]),
)

/** Runs `danlu` on an argument list (without `node` and the script path). */
export const runDanlu = Command.runWith(danlu, { version })
