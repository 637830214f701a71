import { Data, Effect } from "effect"
import type { TensorFile } from "../io/tensorFile.js"
import { type ClipTextConfig, clipL, openClipBigG, openClipH } from "../models/clip/config.js"
import type { BaseFamily, Prediction } from "../models/detect/baseVersion.js"
import { sd2UNet, sd15UNet, sdxlUNet, type UNetConfig } from "../models/unet/config.js"
import { sdVae, sdxlVae, type VaeConfig } from "../models/vae/config.js"

/** The families danlu trains and samples. */
export type TrainableFamily = Exclude<BaseFamily, "sdxl-refiner">

/**
 * Everything needed to build a base model's graphs: its family, the hyperparameters of each part and what
 * the UNet predicts. Standard checkpoints get the published configs; a checkpoint whose shapes differ (the
 * bundled demo model, a test model) carries its own in the `danlu.architecture` metadata key.
 */
export interface SdArchitecture {
  readonly family: TrainableFamily
  readonly prediction: Exclude<Prediction, "unknown">
  readonly unet: UNetConfig
  /** One text encoder for SD1/SD2; CLIP-L then bigG for SDXL. */
  readonly text: ReadonlyArray<ClipTextConfig>
  readonly vae: VaeConfig
}

/** The metadata key holding a non-standard architecture as JSON. */
export const architectureMetadataKey = "danlu.architecture"

export class ArchitectureError extends Data.TaggedError("ArchitectureError")<{
  readonly file: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.file}: ${this.detail}`
  }
}

/** The published architecture of a family. */
export const standardArchitecture = (
  family: TrainableFamily,
  prediction: Exclude<Prediction, "unknown"> = "epsilon",
): SdArchitecture => {
  switch (family) {
    case "sd1":
      return { family, prediction, unet: sd15UNet, text: [clipL], vae: sdVae }
    case "sd2":
      return { family, prediction, unet: sd2UNet, text: [openClipH], vae: sdVae }
    case "sdxl":
      return { family, prediction, unet: sdxlUNet, text: [clipL, openClipBigG], vae: sdxlVae }
  }
}

/** The metadata entry that makes a non-standard checkpoint self-describing. */
export const architectureMetadata = (architecture: SdArchitecture): Record<string, string> => ({
  [architectureMetadataKey]: JSON.stringify(architecture),
})

const parseEmbedded = (file: TensorFile, text: string): Effect.Effect<SdArchitecture, ArchitectureError> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return Effect.fail(
      new ArchitectureError({ file: file.name, detail: `${architectureMetadataKey} is not JSON` }),
    )
  }
  const candidate = parsed as Partial<SdArchitecture>
  if (
    (candidate.family !== "sd1" && candidate.family !== "sd2" && candidate.family !== "sdxl") ||
    typeof candidate.unet !== "object" ||
    !Array.isArray(candidate.text) ||
    typeof candidate.vae !== "object"
  ) {
    return Effect.fail(
      new ArchitectureError({
        file: file.name,
        detail: `${architectureMetadataKey} lacks family, unet, text or vae`,
      }),
    )
  }
  return Effect.succeed({ prediction: "epsilon", ...candidate } as SdArchitecture)
}

/**
 * The architecture of an opened checkpoint: the embedded one when present, else the family's published one
 * (with `prediction` from detection; pass "v" for SD2-768-v files that detection could not tell apart).
 */
export const architectureOf = (
  file: TensorFile,
  detected: { readonly family: BaseFamily | undefined; readonly prediction: Prediction },
): Effect.Effect<SdArchitecture, ArchitectureError> => {
  const embedded = file.metadata[architectureMetadataKey]
  if (embedded !== undefined) return parseEmbedded(file, embedded)
  const family = detected.family
  if (family === undefined || family === "sdxl-refiner") {
    return Effect.fail(
      new ArchitectureError({
        file: file.name,
        detail:
          family === undefined
            ? "is not an SD1.x, SD2.x or SDXL checkpoint"
            : "is an SDXL refiner, which LoRAs are not trained on",
      }),
    )
  }
  return Effect.succeed(standardArchitecture(family, detected.prediction === "v" ? "v" : "epsilon"))
}

/** Latent pixels per side: the VAE halves the size once per level after the first. */
export const vaeDownscale = (architecture: SdArchitecture): number =>
  2 ** (architecture.vae.channelMult.length - 1)
