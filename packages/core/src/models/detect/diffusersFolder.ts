import { Effect } from "effect"
import type { TensorFile } from "../../io/tensorFile.js"
import type { Shape } from "../../tensor/shape.js"
import { familyLabel, type Prediction } from "./baseVersion.js"
import type { CheckpointInfo } from "./checkpoint.js"
import type { ComponentName } from "./components.js"
import { type TensorTally, tally } from "./parameterCount.js"
import { detectPrediction } from "./prediction.js"
import { unetSignature } from "./unetSignature.js"

/** The opened parts of a diffusers model folder; a missing part is left out. */
export interface DiffusersParts {
  readonly unet?: TensorFile
  readonly vae?: TensorFile
  readonly textEncoder?: TensorFile
  readonly textEncoder2?: TensorFile
  /** Parsed `scheduler/scheduler_config.json`, if the folder has one. */
  readonly schedulerConfig?: unknown
}

/** HF text encoder width → which encoder it is. */
const encoderName = (file: TensorFile): string => {
  const embedding = file.tensors.find((tensor) => tensor.name.endsWith("embeddings.token_embedding.weight"))
  const width = embedding?.shape[1]
  return width === 768
    ? "CLIP ViT-L/14"
    : width === 1024
      ? "OpenCLIP ViT-H/14"
      : width === 1280
        ? "OpenCLIP ViT-bigG/14"
        : `unknown text encoder (width ${width ?? "?"})`
}

const declaredPrediction = (config: unknown): Prediction | undefined => {
  if (typeof config !== "object" || config === null) return undefined
  const value = (config as { prediction_type?: unknown }).prediction_type
  return value === "epsilon" ? "epsilon" : value === "v_prediction" ? "v" : undefined
}

/**
 * Detects a diffusers folder: the family from the UNet's shapes, the prediction type from the scheduler
 * config (authoritative there) or the same heuristic as single files, counts per part.
 */
export const detectDiffusersFolder = (parts: DiffusersParts): Effect.Effect<CheckpointInfo> =>
  Effect.gen(function* () {
    const components: Partial<Record<ComponentName, TensorTally>> = {}
    const named: ReadonlyArray<readonly [ComponentName, TensorFile | undefined]> = [
      ["unet", parts.unet],
      ["vae", parts.vae],
      ["text_encoder", parts.textEncoder],
      ["text_encoder_2", parts.textEncoder2],
    ]
    for (const [component, file] of named) if (file !== undefined) components[component] = tally(file.tensors)
    const unet =
      parts.unet === undefined
        ? undefined
        : unetSignature(
            new Map<string, Shape>(parts.unet.tensors.map((tensor) => [tensor.name, tensor.shape])),
            "diffusers",
          )
    const family = unet?.family
    const familyBasis =
      unet === undefined
        ? "the folder has no readable unet/"
        : family === undefined
          ? `UNet shapes match no known family (context ${unet.contextDim ?? "?"}, ${unet.modelChannels} channels)`
          : `UNet shapes (context ${unet.contextDim}, ${unet.modelChannels} channels)`
    const declared = declaredPrediction(parts.schedulerConfig)
    const prediction =
      declared !== undefined
        ? { prediction: declared, basis: "scheduler/scheduler_config.json prediction_type" }
        : parts.unet === undefined
          ? { prediction: "unknown" as const, basis: "no UNet and no scheduler config" }
          : yield* detectPrediction(parts.unet, family, unet, "", "diffusers")
    const textEncoders = [parts.textEncoder, parts.textEncoder2].flatMap((file) =>
      file === undefined ? [] : [encoderName(file)],
    )
    const all = named.flatMap(([, file]) => file?.tensors ?? [])
    const notes = family === undefined ? [] : [`${familyLabel[family]} diffusers folder`]
    return {
      layout: "diffusers-folder",
      family,
      familyBasis,
      prediction: prediction.prediction,
      predictionBasis: prediction.basis,
      unet,
      textEncoders,
      components,
      hasEma: false,
      total: tally(all),
      notes,
    } satisfies CheckpointInfo
  })
