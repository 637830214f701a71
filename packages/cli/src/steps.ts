import { backends } from "./commands/backends.js"
import { dataset } from "./commands/dataset.js"
import { model } from "./commands/model.js"
import { tag } from "./commands/tag.js"
import { tags } from "./commands/tags.js"
import { trainCommand } from "./commands/train.js"

/**
 * One sub-command per step of the guide, in its order: backend → base model → dataset → tagging →
 * parameters → training → validation.
 */
export const stepCommands = [backends, model, dataset, tag, tags, trainCommand] as const
