/**
 * LDM/SGM `UNetModel` hyperparameters, named as in the original yaml configs (`unet_config.params`).
 * Full-size configs match CompVis `v1-inference.yaml`, Stability `v2-inference-v.yaml` and SGM `sd_xl_base.yaml`.
 */
export interface UNetConfig {
  readonly inChannels: number
  readonly outChannels: number
  /** Width of level 0; the time embedding is 4× this. */
  readonly modelChannels: number
  /** Width multiplier per level; one downsample between consecutive levels. */
  readonly channelMult: ReadonlyArray<number>
  /** Res blocks per level on the way down (the way up has one more). */
  readonly numResBlocks: number
  /** Downsample factors (1, 2, 4, …) whose levels get a spatial transformer after each res block. */
  readonly attentionResolutions: ReadonlyArray<number>
  /** Transformer blocks per spatial transformer, per level. */
  readonly transformerDepth: ReadonlyArray<number>
  /** Transformer blocks in the middle block's spatial transformer. */
  readonly transformerDepthMiddle: number
  /** A fixed head count (SD1: 8), or undefined when `numHeadChannels` fixes the head width instead. */
  readonly numHeads: number | undefined
  /** A fixed head width (SD2/SDXL: 64), or undefined. */
  readonly numHeadChannels: number | undefined
  /** Width of the text conditioning (SD1 768, SD2 1024, SDXL 2048). */
  readonly contextDim: number
  /** Linear `proj_in`/`proj_out` (SD2, SDXL) instead of 1×1 convolutions (SD1). */
  readonly useLinearInTransformer: boolean
  /** Width of SDXL's extra conditioning vector `y` (`label_emb`), or undefined. */
  readonly admInChannels: number | undefined
  /** GroupNorm groups (32 in every SD model). */
  readonly normGroups: number
}

/** SD1.x (CompVis `v1-inference.yaml`). */
export const sd15UNet: UNetConfig = {
  inChannels: 4,
  outChannels: 4,
  modelChannels: 320,
  channelMult: [1, 2, 4, 4],
  numResBlocks: 2,
  attentionResolutions: [4, 2, 1],
  transformerDepth: [1, 1, 1, 1],
  transformerDepthMiddle: 1,
  numHeads: 8,
  numHeadChannels: undefined,
  contextDim: 768,
  useLinearInTransformer: false,
  admInChannels: undefined,
  normGroups: 32,
}

/** SD2.x (Stability `v2-inference(-v).yaml`): 64-wide heads, linear projections, OpenCLIP-H context. */
export const sd2UNet: UNetConfig = {
  ...sd15UNet,
  numHeads: undefined,
  numHeadChannels: 64,
  contextDim: 1024,
  useLinearInTransformer: true,
}

/** SDXL base (SGM `sd_xl_base.yaml`). */
export const sdxlUNet: UNetConfig = {
  inChannels: 4,
  outChannels: 4,
  modelChannels: 320,
  channelMult: [1, 2, 4],
  numResBlocks: 2,
  attentionResolutions: [4, 2],
  transformerDepth: [1, 2, 10],
  transformerDepthMiddle: 10,
  numHeads: undefined,
  numHeadChannels: 64,
  contextDim: 2048,
  useLinearInTransformer: true,
  admInChannels: 2816,
  normGroups: 32,
}

/** A tiny SD1-layout UNet for tests: 32/64 channels, 2 heads, context 32. */
export const tinySd1UNet: UNetConfig = {
  inChannels: 4,
  outChannels: 4,
  modelChannels: 32,
  channelMult: [1, 2],
  numResBlocks: 2,
  attentionResolutions: [1, 2],
  transformerDepth: [1, 1],
  transformerDepthMiddle: 1,
  numHeads: 2,
  numHeadChannels: undefined,
  contextDim: 32,
  useLinearInTransformer: false,
  admInChannels: undefined,
  normGroups: 32,
}

/** A tiny SD2-layout UNet: linear projections, 16-wide heads. */
export const tinySd2UNet: UNetConfig = {
  ...tinySd1UNet,
  numHeads: undefined,
  numHeadChannels: 16,
  useLinearInTransformer: true,
}

/** A tiny SDXL-layout UNet: no attention at level 0, depth 2 at level 1, an extra conditioning vector. */
export const tinySdxlUNet: UNetConfig = {
  ...tinySd2UNet,
  attentionResolutions: [2],
  transformerDepth: [0, 2],
  transformerDepthMiddle: 2,
  admInChannels: 48,
}

/** Heads and head width of a spatial transformer over `channels`. */
export const headsFor = (config: UNetConfig, channels: number): { heads: number; headDim: number } => {
  if (config.numHeadChannels !== undefined)
    return { heads: channels / config.numHeadChannels, headDim: config.numHeadChannels }
  const heads = config.numHeads ?? 1
  return { heads, headDim: channels / heads }
}
