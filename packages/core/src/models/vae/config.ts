/**
 * LDM `AutoencoderKL` ("KL-f8") hyperparameters, named as in `first_stage_config` (`ddconfig`). SD1, SD2 and
 * SDXL share the architecture; only the latent scale factor differs.
 */
export interface VaeConfig {
  readonly inChannels: number
  readonly outChannels: number
  /** Width of level 0 (`ch`). */
  readonly channels: number
  readonly channelMult: ReadonlyArray<number>
  /** Res blocks per encoder level (the decoder has one more). */
  readonly numResBlocks: number
  readonly zChannels: number
  readonly embedDim: number
  readonly normGroups: number
  /** Latents for the UNet are `sample × scaleFactor`. */
  readonly scaleFactor: number
}

/** SD1.x/SD2.x VAE (scale 0.18215). */
export const sdVae: VaeConfig = {
  inChannels: 3,
  outChannels: 3,
  channels: 128,
  channelMult: [1, 2, 4, 4],
  numResBlocks: 2,
  zChannels: 4,
  embedDim: 4,
  normGroups: 32,
  scaleFactor: 0.18215,
}

/** SDXL VAE: same architecture, scale 0.13025. */
export const sdxlVae: VaeConfig = { ...sdVae, scaleFactor: 0.13025 }

/** A tiny VAE for tests: 32/64 channels, one downsample. */
export const tinyVae: VaeConfig = { ...sdVae, channels: 32, channelMult: [1, 2], numResBlocks: 1 }

/** The VAE's prefix in LDM/SGM single-file checkpoints. */
export const vaePrefix = "first_stage_model"
