import {
  type Graph,
  type ModuleAdapter,
  type ModuleInfo,
  Sample,
  type SdArchitecture,
  sd1TextConditioning,
  sd2TextConditioning,
  T,
  type Tensor,
  unet,
  unetPrefix,
  vaeDecode,
  vaePrefix,
  WeightScope,
} from "@danlu/core"

/** The families `generate` draws: SD1 and SD2 (SDXL's pooled text and size vector are not wired yet). */
export const generateFamilies = ["sd1", "sd2"] as const

/** How many pixels one latent cell covers: 2 per VAE level below the first (8 for SD's VAE). */
export const vaeFactor = (architecture: SdArchitecture): number =>
  2 ** (architecture.vae.channelMult.length - 1)

const textEncoder =
  (scope: WeightScope, architecture: SdArchitecture, clipSkip: number | undefined) =>
  (tokens: Tensor): Tensor => {
    const config = architecture.text[0]!
    return architecture.family === "sd2"
      ? sd2TextConditioning(scope, config, tokens, clipSkip ?? 2)
      : sd1TextConditioning(scope, config, tokens, clipSkip ?? 1)
  }

/** A prompt's conditioning `[1, chunks·77, D]` from `chunks` token chunks, LoRAs applied through `adapter`. */
export const textGraph = (
  architecture: SdArchitecture,
  chunks: number,
  clipSkip: number | undefined,
  adapter: ModuleAdapter | undefined,
): Graph => {
  const scope = WeightScope.root(adapter ? { adapters: [adapter] } : {})
  return Sample.promptConditioningGraph(textEncoder(scope, architecture, clipSkip), chunks).graph
}

export interface DenoiserShape {
  readonly batch: number
  /** Latent height and width. */
  readonly height: number
  readonly width: number
  readonly condLength: number
  readonly uncondLength: number
}

/** The guided denoiser D(x, sigma) of `Sample.denoiserGraph` over the architecture's UNet. */
export const denoiserGraph = (
  architecture: SdArchitecture,
  shape: DenoiserShape,
  adapter: ModuleAdapter | undefined,
): Graph => {
  const scope = WeightScope.root(adapter ? { adapters: [adapter] } : {})
  return Sample.denoiserGraph((inputs) => unet(scope.at(unetPrefix), architecture.unet, inputs), {
    batch: shape.batch,
    channels: architecture.unet.inChannels,
    height: shape.height,
    width: shape.width,
    contextLength: shape.condLength,
    uncondLength: shape.uncondLength,
    contextDim: architecture.unet.contextDim,
    prediction: architecture.prediction,
  }).graph
}

/** The names of the VAE decoder program's input and output. */
export const decoderNames = { latents: "latents", image: "image" } as const

/** Latents `[B, C, h, w]` (as the sampler ends, before the VAE's scale factor) to pixels in [-1, 1]. */
export const decoderGraph = (
  architecture: SdArchitecture,
  shape: { readonly batch: number; readonly height: number; readonly width: number },
): Graph => {
  const latents = T.input(decoderNames.latents, [
    shape.batch,
    architecture.vae.embedDim,
    shape.height,
    shape.width,
  ])
  const image = vaeDecode(WeightScope.root().at(vaePrefix), architecture.vae, latents)
  return { outputs: { [decoderNames.image]: image } }
}

/** Every linear and conv layer of the text encoder and the UNet: what a LoRA file is matched against. */
export const loraTargetModules = (architecture: SdArchitecture): ReadonlyArray<ModuleInfo> => {
  const scope = WeightScope.root()
  textEncoder(
    scope,
    architecture,
    undefined,
  )(T.input("tokens", [1, architecture.text[0]!.maxPositions], "i32"))
  const side = 2 ** (architecture.unet.channelMult.length - 1)
  unet(scope.at(unetPrefix), architecture.unet, {
    x: T.input("x", [1, architecture.unet.inChannels, side, side]),
    timesteps: T.input("t", [1]),
    context: T.input("context", [1, 1, architecture.unet.contextDim]),
  })
  return scope.modules()
}
