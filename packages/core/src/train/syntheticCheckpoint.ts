import { fromHostTensor, type StoredTensor } from "../io/storedTensor.js"
import { tinyClipL, tinyOpenClip } from "../models/clip/config.js"
import { tinySd1UNet, tinySd2UNet, tinySdxlUNet } from "../models/unet/config.js"
import { vaeDecode, vaeEncode } from "../models/vae/autoencoder.js"
import { tinyVae, vaePrefix } from "../models/vae/config.js"
import type { WeightEntry } from "../nn/weightScope.js"
import { WeightScope } from "../nn/weightScope.js"
import { input } from "../ops/sources.js"
import { uniformF32 } from "../random/philox.js"
import { hostTensor } from "../tensor/hostTensor.js"
import {
  architectureMetadata,
  type SdArchitecture,
  type TrainableFamily,
  vaeDownscale,
} from "./architecture.js"
import { conditionedUNet, conditioningInputs, textConditioning } from "./sdModel.js"

/**
 * Small models in the exact SD1/SD2/SDXL layouts, with CLIP's real vocabulary and 77 positions so the real
 * tokenizer and A1111's prompt chunks apply: what tests, benchmarks and the bundled demo model are built on.
 */
export const tinyArchitecture = (family: TrainableFamily): SdArchitecture => {
  const clip = { ...tinyClipL, vocabSize: 49408, maxPositions: 77 }
  const openClip = { ...tinyOpenClip, vocabSize: 49408, maxPositions: 77 }
  const vae = { ...tinyVae, scaleFactor: family === "sdxl" ? 0.13025 : 0.18215 }
  switch (family) {
    case "sd1":
      return { family, prediction: "epsilon", unet: tinySd1UNet, text: [clip], vae }
    case "sd2":
      return {
        family,
        prediction: "epsilon",
        unet: { ...tinySd2UNet, contextDim: openClip.width },
        text: [openClip],
        vae,
      }
    case "sdxl":
      return {
        family,
        prediction: "epsilon",
        unet: {
          ...tinySdxlUNet,
          contextDim: clip.width + openClip.width,
          admInChannels: (openClip.projectionDim ?? 0) + 6 * 256,
        },
        text: [clip, openClip],
        vae,
      }
  }
}

/** Every weight the model's parts ask for: text encoder(s), UNet, VAE encoder and decoder. */
export const architectureManifest = (architecture: SdArchitecture): ReadonlyMap<string, WeightEntry> => {
  const scope = WeightScope.root()
  const conditioning = textConditioning(scope, architecture, conditioningInputs(architecture, 1), undefined)
  const factor = vaeDownscale(architecture)
  const latent = input("latent", [1, architecture.unet.inChannels, 8, 8])
  conditionedUNet(scope, architecture, conditioning)(latent, input("t", [1]))
  vaeEncode(scope.at(vaePrefix), architecture.vae, input("image", [1, 3, 8 * factor, 8 * factor]))
  vaeDecode(scope.at(vaePrefix), architecture.vae, latent)
  return scope.manifest()
}

/**
 * A checkpoint of seeded weights for an architecture, as LDM single-file keys, with the architecture in its
 * metadata: norm scales 1, biases uniform in ±0.1, matrices uniform in ±1/√fan_in from the Philox stream of `seed`.
 */
export const syntheticCheckpoint = (
  architecture: SdArchitecture,
  seed: number,
): { readonly tensors: Record<string, StoredTensor>; readonly metadata: Record<string, string> } => {
  const entries = [...architectureManifest(architecture).values()]
  const tensors: Record<string, StoredTensor> = {}
  entries.forEach((entry, index) => {
    const count = entry.shape.reduce((a, b) => a * b, 1)
    const fanIn = Math.max(
      1,
      entry.shape.slice(1).reduce((a, b) => a * b, 1),
    )
    const u = uniformF32(count, seed, index)
    // Biases are small but not zero: a zero final LayerNorm bias makes every prompt chunk's mean vanish, and
    // A1111's emphasis divides by that mean.
    const values =
      entry.shape.length === 1
        ? entry.key.endsWith(".weight")
          ? new Float32Array(count).fill(1)
          : Float32Array.from(u, (v) => (2 * v - 1) * 0.1)
        : Float32Array.from(u, (v) => (2 * v - 1) / Math.sqrt(fanIn))
    tensors[entry.key] = fromHostTensor(hostTensor("f32", entry.shape, values))
  })
  return { tensors, metadata: architectureMetadata(architecture) }
}
