import { Effect } from "effect"
import type { TensorFile, TensorFileFormat } from "../../io/tensorFile.js"
import { type CheckpointInfo, detectCheckpoint } from "./checkpoint.js"
import { inspectLora, type LoraInfo, looksLikeLora } from "./lora.js"

/** What a model file is, as `danlu model inspect` reports it. */
export type ModelInspection =
  | {
      readonly kind: "checkpoint"
      readonly file: string
      readonly format: TensorFileFormat
      readonly checkpoint: CheckpointInfo
    }
  | {
      readonly kind: "lora"
      readonly file: string
      readonly format: TensorFileFormat
      readonly lora: LoraInfo
    }

/** Inspects an opened file as a LoRA when its keys are LoRA keys, else as a checkpoint. */
export const inspectTensorFile = (file: TensorFile): Effect.Effect<ModelInspection> =>
  looksLikeLora(file)
    ? Effect.map(inspectLora(file), (lora) => ({
        kind: "lora" as const,
        file: file.name,
        format: file.format,
        lora,
      }))
    : Effect.map(detectCheckpoint(file), (checkpoint) => ({
        kind: "checkpoint" as const,
        file: file.name,
        format: file.format,
        checkpoint,
      }))
