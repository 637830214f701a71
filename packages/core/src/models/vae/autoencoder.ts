import { conv2d } from "../../nn/conv2d.js"
import type { WeightScope } from "../../nn/weightScope.js"
import { add, clamp, exp, mul } from "../../ops/elementwise.js"
import { chunk } from "../../ops/movement.js"
import type { Tensor } from "../../tensor/tensor.js"
import type { VaeConfig } from "./config.js"
import { vaeDecoder } from "./decoder.js"
import { vaeEncoder } from "./encoder.js"

/** The encoder's diagonal Gaussian posterior (LDM `DiagonalGaussianDistribution`). */
export interface LatentPosterior {
  readonly mean: Tensor
  /** Clamped to [-30, 20], as LDM does. */
  readonly logvar: Tensor
}

/** `AutoencoderKL.encode`: image in [-1, 1] `[B, 3, H, W]` → posterior over `[B, embedDim, H/f, W/f]`. */
export const vaeEncode = (scope: WeightScope, config: VaeConfig, image: Tensor): LatentPosterior => {
  const root = scope.component("vae")
  const moments = conv2d(root.at("quant_conv"), vaeEncoder(root.at("encoder"), config, image), {
    inChannels: 2 * config.zChannels,
    outChannels: 2 * config.embedDim,
    kernel: 1,
  })
  const [mean, logvar] = chunk(moments, 2, 1) as [Tensor, Tensor]
  return { mean, logvar: clamp(logvar, -30, 20) }
}

/**
 * A diffusion latent from the posterior: `(mean + exp(logvar/2)·noise) × scaleFactor`, with `noise` standard
 * normal of the latent's shape (omit it for the posterior mode).
 */
export const vaeLatent = (config: VaeConfig, posterior: LatentPosterior, noise?: Tensor): Tensor => {
  const sample = noise ? add(posterior.mean, mul(exp(mul(posterior.logvar, 0.5)), noise)) : posterior.mean
  return mul(sample, config.scaleFactor)
}

/** `AutoencoderKL.decode` of a diffusion latent (divided by the scale factor first) → image in about [-1, 1]. */
export const vaeDecode = (scope: WeightScope, config: VaeConfig, latent: Tensor): Tensor => {
  const root = scope.component("vae")
  const z = conv2d(root.at("post_quant_conv"), mul(latent, 1 / config.scaleFactor), {
    inChannels: config.embedDim,
    outChannels: config.zChannels,
    kernel: 1,
  })
  return vaeDecoder(root.at("decoder"), config, z)
}
