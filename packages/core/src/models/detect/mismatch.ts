import { Effect } from "effect"
import { ModelMismatch } from "../../io/errors.js"
import { familyLabel } from "./baseVersion.js"
import type { CheckpointInfo } from "./checkpoint.js"
import type { LoraInfo } from "./lora.js"

/**
 * Refuses a LoRA made for another model family than the base it is used with (an SD1.5 LoRA on SDXL, ...),
 * naming both versions. When either side's family is unknown there is nothing to compare and it passes.
 */
export const ensureLoraMatchesBase = (
  lora: { readonly name: string; readonly info: Pick<LoraInfo, "family"> },
  base: { readonly name: string; readonly info: Pick<CheckpointInfo, "family"> },
): Effect.Effect<void, ModelMismatch> => {
  const loraFamily = lora.info.family
  const baseFamily = base.info.family
  if (loraFamily === undefined || baseFamily === undefined || loraFamily === baseFamily) return Effect.void
  return Effect.fail(
    new ModelMismatch({
      lora: lora.name,
      base: base.name,
      loraVersion: familyLabel[loraFamily],
      baseVersion: familyLabel[baseFamily],
    }),
  )
}
