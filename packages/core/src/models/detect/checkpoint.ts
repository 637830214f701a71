import { Effect } from "effect"
import type { TensorInfo } from "../../io/storedTensor.js"
import type { TensorFile } from "../../io/tensorFile.js"
import type { Shape } from "../../tensor/shape.js"
import {
  type BaseFamily,
  familyFromKohyaVersion,
  familyFromModelspec,
  familyLabel,
  type Prediction,
} from "./baseVersion.js"
import {
  type ComponentName,
  componentOrder,
  groupByComponent,
  ldmComponentOf,
  ldmTextEncoders,
} from "./components.js"
import { type TensorTally, tally } from "./parameterCount.js"
import { detectPrediction } from "./prediction.js"
import { type UNetNaming, type UNetSignature, unetSignature } from "./unetSignature.js"

/** How a checkpoint file names its tensors. */
export type CheckpointLayout =
  /** The original single file: `model.diffusion_model.`, `first_stage_model.`, `cond_stage_model.`/`conditioner.`. */
  | "ldm"
  /** A diffusers UNet file (`unet/diffusion_pytorch_model.safetensors`): `conv_in`, `down_blocks.`, … */
  | "diffusers-unet"
  /** A VAE on its own (`encoder.`, `decoder.`), LDM or diffusers naming. */
  | "vae"
  /** A text encoder on its own (`text_model.` or OpenCLIP names). */
  | "text-encoder"
  /** A diffusers folder (`unet/`, `vae/`, `text_encoder/`, …), each part in its own file. */
  | "diffusers-folder"
  | "unknown"

export interface CheckpointInfo {
  readonly layout: CheckpointLayout
  readonly family: BaseFamily | undefined
  readonly familyBasis: string
  readonly prediction: Prediction
  readonly predictionBasis: string
  readonly unet: UNetSignature | undefined
  readonly textEncoders: ReadonlyArray<string>
  /** Tensor and parameter counts per component (`ema` holds the EMA copy when the file has one). */
  readonly components: Readonly<Partial<Record<ComponentName, TensorTally>>>
  readonly hasEma: boolean
  readonly total: TensorTally
  readonly notes: ReadonlyArray<string>
}

const layoutOf = (names: ReadonlyArray<string>): CheckpointLayout => {
  const has = (test: (name: string) => boolean) => names.some(test)
  if (has((name) => ldmComponentOf(name) !== "other" && ldmComponentOf(name) !== "ema")) return "ldm"
  if (has((name) => name === "conv_in.weight") && has((name) => name.startsWith("time_embedding.")))
    return "diffusers-unet"
  if (has((name) => name.startsWith("encoder.")) && has((name) => name.startsWith("decoder."))) return "vae"
  if (has((name) => name.startsWith("text_model.") || name.startsWith("transformer.resblocks.")))
    return "text-encoder"
  return "unknown"
}

const withoutPrefix = (tensors: ReadonlyArray<TensorInfo>, prefix: string): Map<string, Shape> =>
  new Map(
    tensors
      .filter((tensor) => tensor.name.startsWith(prefix))
      .map((tensor) => [tensor.name.slice(prefix.length), tensor.shape]),
  )

/** The family the text encoders alone imply (A1111 reads the same keys), for files without a UNet. */
const familyFromTextEncoders = (encoders: ReadonlyArray<string>): BaseFamily | undefined => {
  const list = encoders.join(" + ")
  if (list === "CLIP ViT-L/14 + OpenCLIP ViT-bigG/14") return "sdxl"
  if (list === "OpenCLIP ViT-bigG/14") return "sdxl-refiner"
  if (list === "OpenCLIP ViT-H/14") return "sd2"
  if (list === "CLIP ViT-L/14") return "sd1"
  return undefined
}

const familyFromMetadata = (metadata: Readonly<Record<string, string>>) => {
  const architecture = metadata["modelspec.architecture"]
  return architecture === undefined ? undefined : familyFromModelspec(architecture)
}

/**
 * Detects what a checkpoint is from its keys and shapes: layout, family (SD1.x, SD2.x, SDXL, SDXL refiner),
 * inpainting variant, prediction type (see `detectPrediction`), EMA weights, dtypes and parameter counts per
 * component. Reads at most one small tensor (for the SD2 v-prediction heuristic).
 */
export const detectCheckpoint = (file: TensorFile): Effect.Effect<CheckpointInfo> =>
  Effect.gen(function* () {
    const names = file.tensors.map((tensor) => tensor.name)
    const layout = layoutOf(names)
    const notes: Array<string> = []
    const componentOf = (name: string): ComponentName =>
      layout === "ldm"
        ? ldmComponentOf(name)
        : layout === "diffusers-unet"
          ? "unet"
          : layout === "vae"
            ? "vae"
            : layout === "text-encoder"
              ? "text_encoder"
              : "other"
    const groups = groupByComponent(file.tensors, componentOf)
    const components: Partial<Record<ComponentName, TensorTally>> = {}
    for (const component of componentOrder) {
      const tensors = groups.get(component)
      if (tensors !== undefined) components[component] = tally(tensors)
    }

    const naming: UNetNaming = layout === "diffusers-unet" ? "diffusers" : "ldm"
    const unetPrefix = layout === "ldm" ? "model.diffusion_model." : ""
    const unet =
      layout === "ldm" || layout === "diffusers-unet"
        ? unetSignature(withoutPrefix(file.tensors, unetPrefix), naming)
        : undefined
    const textEncoders = layout === "ldm" ? ldmTextEncoders(names) : []
    const byEncoders = familyFromTextEncoders(textEncoders)
    const byMetadata = familyFromMetadata(file.metadata)

    let family: BaseFamily | undefined
    let familyBasis: string
    if (unet?.family !== undefined) {
      family = unet.family
      familyBasis = `UNet shapes (context ${unet.contextDim}, ${unet.modelChannels} channels${unet.admInChannels === undefined ? "" : `, adm ${unet.admInChannels}`})`
      if (byEncoders !== undefined && byEncoders !== family) {
        notes.push(
          `the text encoders (${textEncoders.join(" + ")}) suggest ${familyLabel[byEncoders]}, the UNet ${familyLabel[family]}`,
        )
      }
    } else if (byEncoders !== undefined) {
      family = byEncoders
      familyBasis = `text encoder keys (${textEncoders.join(" + ")})`
    } else if (byMetadata !== undefined) {
      family = byMetadata.family
      familyBasis = "modelspec.architecture metadata"
    } else {
      family = undefined
      familyBasis =
        unet === undefined
          ? "no UNet or text encoder keys this reader knows"
          : `UNet shapes match no known family (context ${unet.contextDim ?? "?"}, ${unet.modelChannels} channels)`
    }
    if (byMetadata !== undefined && family !== undefined && byMetadata.family !== family) {
      notes.push(`metadata says ${familyLabel[byMetadata.family]} but the weights are ${familyLabel[family]}`)
    }
    const kohyaVersion = file.metadata.ss_base_model_version
    if (kohyaVersion !== undefined) {
      const declared = familyFromKohyaVersion(kohyaVersion)
      if (declared !== undefined && family !== undefined && declared.family !== family) {
        notes.push(
          `ss_base_model_version says ${familyLabel[declared.family]} but the weights are ${familyLabel[family]}`,
        )
      }
    }
    const predictionEvidence = yield* detectPrediction(file, family, unet, unetPrefix, naming)
    const hasEma = groups.has("ema")
    return {
      layout,
      family,
      familyBasis,
      prediction: predictionEvidence.prediction,
      predictionBasis: predictionEvidence.basis,
      unet,
      textEncoders,
      components,
      hasEma,
      total: tally(file.tensors),
      notes,
    } satisfies CheckpointInfo
  })
