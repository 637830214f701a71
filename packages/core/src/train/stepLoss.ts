import { cast } from "../ops/cast.js"
import { add, maximum, mul, neg, sqrt, square, sub } from "../ops/elementwise.js"
import { gather } from "../ops/indexing.js"
import { reshape } from "../ops/movement.js"
import { mean } from "../ops/reduce.js"
import { constant, input } from "../ops/sources.js"
import type { Tensor } from "../tensor/tensor.js"
import type { Draw } from "./draws.js"
import { huberThresholds, timestepLossWeights } from "./lossWeights.js"
import type { NoiseSchedule } from "./noiseSchedule.js"
import { stepNoise } from "./stepNoise.js"
import type { ResolvedStepOptions } from "./stepOptions.js"

/** Builds the model's prediction for noisy latents [B, C, H, W] at timesteps [B] (f32). */
export type Denoise = (noisy: Tensor, timesteps: Tensor) => Tensor

/** Names of the inputs a step or validation graph may take besides the caller's own. */
export const stepInputNames = {
  /** u32[4] key of the step's random draws (see `stepKey`). */
  noiseKey: "noise_key",
  /** f32 [B]: per-sample loss weight (kohya's `prior_loss_weight` for regularisation images, else 1). */
  lossWeights: "loss_weights",
  /** f32 [B, 1, H, W] at latent size, with `maskedLoss`: multiplies the element loss, not renormalised. */
  lossMask: "loss_mask",
  /** f32 scalar: 1-based optimizer step (bias corrections). */
  step: "step",
  /** f32 scalar, with gradient accumulation: 1 on the micro-step that applies the optimizer, else 0. */
  applyUpdate: "apply_update",
} as const

const table = (values: Float32Array): Tensor => constant(values, [values.length])

/** Per-sample values of a timestep table, shaped [B, 1, 1, 1] to scale a [B, C, H, W] tensor. */
const perSample = (values: Float32Array, timesteps: Tensor): Tensor =>
  reshape(gather(table(values), timesteps), [timesteps.shape[0]!, 1, 1, 1])

const elementLoss = (
  prediction: Tensor,
  target: Tensor,
  threshold: Tensor | undefined,
  lossType: ResolvedStepOptions["lossType"],
): Tensor => {
  const d = sub(prediction, target)
  if (lossType === "l2") return square(d)
  if (lossType === "l1") return maximum(d, neg(d))
  const c = threshold!
  const pseudoHuber = sub(sqrt(add(square(d), square(c))), c)
  return lossType === "huber" ? mul(mul(pseudoHuber, c), 2) : mul(pseudoHuber, 2)
}

export interface StepLoss {
  /** Mean over the batch. */
  readonly loss: Tensor
  /** [B]: each sample's loss after masking, loss weights and timestep weighting. */
  readonly perSample: Tensor
}

/**
 * kohya's `process_batch` for one batch at integer timesteps [B] (i32): noise, noisy latents
 * √ᾱ·x₀ + √(1−ᾱ)·n, the model's prediction, the ε or v target, the element loss, the mask, the mean over
 * C, H, W, the loss weights and the timestep weighting; then the batch mean.
 */
export const stepLoss = (
  latents: Tensor,
  timesteps: Tensor,
  denoise: Denoise,
  draw: Draw,
  schedule: NoiseSchedule,
  options: ResolvedStepOptions,
): StepLoss => {
  const x0 = cast(latents, "f32")
  const batch = x0.shape[0]!
  const { noise, inputNoise } = stepNoise(x0, draw, options)
  const signal = perSample(schedule.alphasCumprod.map(Math.sqrt), timesteps)
  const noiseScale = perSample(
    schedule.alphasCumprod.map((a) => Math.sqrt(1 - a)),
    timesteps,
  )
  const noisy = add(mul(x0, signal), mul(inputNoise, noiseScale))
  const prediction = cast(denoise(noisy, cast(timesteps, "f32")), "f32")
  const target =
    options.predictionType === "v_prediction" ? sub(mul(noise, signal), mul(x0, noiseScale)) : noise
  const thresholds = huberThresholds(schedule, options)
  let loss = elementLoss(prediction, target, thresholds && perSample(thresholds, timesteps), options.lossType)
  if (options.maskedLoss) loss = mul(loss, input(stepInputNames.lossMask, [batch, 1, ...x0.shape.slice(2)]))
  let perSampleLoss = mul(mean(loss, [1, 2, 3]), input(stepInputNames.lossWeights, [batch]))
  const weights = timestepLossWeights(schedule, options)
  if (weights) perSampleLoss = mul(perSampleLoss, gather(table(weights), timesteps))
  return { loss: mean(perSampleLoss), perSample: perSampleLoss }
}
