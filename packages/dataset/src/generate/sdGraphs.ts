import {
  type Graph,
  type ModuleAdapter,
  type ModuleInfo,
  Sample,
  type SdArchitecture,
  sd1TextConditioning,
  sd2TextConditioning,
  sdxlTextConditioning,
  sdxlVector,
  T,
  type Tensor,
  unet,
  unetPrefix,
  vaeDecode,
  vaePrefix,
  WeightScope,
} from "@danlu/core"

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

/** The SDXL text program's extra inputs and output, beside `Sample.promptConditioningNames`. */
export const sdxlTextNames = {
  tokensG: "prompt_tokens_2",
  eosG: "prompt_eos_2",
  sizes: "sizes",
  vector: "vector",
} as const

/** Width of each size number's sinusoidal embedding in SDXL's vector (256 for SDXL itself). */
const sizeEmbedWidth = (architecture: SdArchitecture): number =>
  ((architecture.unet.admInChannels ?? 0) - (architecture.text[1]?.projectionDim ?? 0)) / 6

/**
 * SDXL's prompt conditioning as A1111 computes it: every 77-token chunk through CLIP-L and bigG
 * (`sdxlTextConditioning`), weighted and concatenated like SD1's; the vector `y` from the first chunk's
 * pooled bigG output and the size conditioning `[1, 6]` (original h, w, crop top, left, target h, w).
 */
const sdxlTextGraph = (
  architecture: SdArchitecture,
  chunks: number,
  clipSkip: number | undefined,
  scope: WeightScope,
): Graph => {
  const names = Sample.promptConditioningNames
  const tokensL = T.input(names.tokens, [chunks, 77], "i32")
  const tokensG = T.input(sdxlTextNames.tokensG, [chunks, 77], "i32")
  const eosG = T.input(sdxlTextNames.eosG, [chunks], "i32")
  const weights = T.input(names.weights, [chunks, 77])
  const sizes = T.input(sdxlTextNames.sizes, [1, 6])
  const [clipL, bigG] = architecture.text as [(typeof architecture.text)[0], (typeof architecture.text)[0]]
  const out = sdxlTextConditioning(scope, { clipL, bigG }, tokensL, tokensG, eosG, clipSkip ?? 2)
  const vector = sdxlVector(T.sliceAxis(out.pooled, 0, 0, 1), sizes, sizeEmbedWidth(architecture))
  // A1111 runs each encoder as its own hijacked embedder: emphasis restores each one's mean separately.
  const widthL = clipL.width
  const widthG = out.context.shape[2]! - widthL
  const context = T.concat(
    [
      Sample.weightedChunks(T.sliceAxis(out.context, 2, 0, widthL), weights),
      Sample.weightedChunks(T.sliceAxis(out.context, 2, widthL, widthL + widthG), weights),
    ],
    2,
  )
  return { outputs: { [names.conditioning]: context, [sdxlTextNames.vector]: vector } }
}

/**
 * A prompt's conditioning `[1, chunks·77, D]` from `chunks` token chunks (and SDXL's vector), LoRAs applied
 * through `adapters`.
 */
export const textGraph = (
  architecture: SdArchitecture,
  chunks: number,
  clipSkip: number | undefined,
  adapters: ReadonlyArray<ModuleAdapter>,
): Graph => {
  const scope = WeightScope.root({ adapters })
  if (architecture.family === "sdxl") return sdxlTextGraph(architecture, chunks, clipSkip, scope)
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

/**
 * The sampler program of `Sample.samplerGraph` over the architecture's UNet, with `adapters`: one guided
 * model evaluation and a sampler's update of the latents it keeps on the device.
 */
export const samplerGraph = (
  architecture: SdArchitecture,
  shape: DenoiserShape,
  adapters: ReadonlyArray<ModuleAdapter>,
): Graph => {
  const scope = WeightScope.root({ adapters })
  return Sample.samplerGraph((inputs) => unet(scope.at(unetPrefix), architecture.unet, inputs), {
    batch: shape.batch,
    channels: architecture.unet.inChannels,
    height: shape.height,
    width: shape.width,
    contextLength: shape.condLength,
    uncondLength: shape.uncondLength,
    contextDim: architecture.unet.contextDim,
    prediction: architecture.prediction,
    ...(architecture.unet.admInChannels === undefined ? {} : { vectorDim: architecture.unet.admInChannels }),
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
  if (architecture.family === "sdxl") sdxlTextGraph(architecture, 1, undefined, scope)
  else textEncoder(scope, architecture, undefined)(T.input("tokens", [1, 77], "i32"))
  const side = 2 ** (architecture.unet.channelMult.length - 1)
  const adm = architecture.unet.admInChannels
  unet(scope.at(unetPrefix), architecture.unet, {
    x: T.input("x", [1, architecture.unet.inChannels, side, side]),
    timesteps: T.input("t", [1]),
    context: T.input("context", [1, 1, architecture.unet.contextDim]),
    ...(adm === undefined ? {} : { y: T.input("y", [1, adm]) }),
  })
  return scope.modules()
}
