import { noiseSchedule } from "../train/noiseSchedule.js"

/**
 * The discrete noise schedule of the SD UNets (CompVis LDM `register_schedule`, "scaled linear" betas) in
 * k-diffusion's continuous view (`k_diffusion/external.py` DiscreteSchedule): sigma_t =
 * sqrt((1 − ᾱ_t)/ᾱ_t) for t = 0 … 999, and t ↔ sigma by interpolating linearly in log sigma.
 *
 * LDM computes ᾱ in float64 and stores it as float32; k-diffusion derives sigmas and log sigmas from that
 * float32 table in float32. So every table here holds float32 values (as f64 numbers), and the arithmetic
 * on them is done in f64.
 */

export interface DiscreteSchedule {
  /** ᾱ_t, t = 0 … timesteps − 1, as float32 values. */
  readonly alphasCumprod: Float64Array
  /** sigma_t, ascending, as float32 values. */
  readonly sigmas: Float64Array
  /** ln sigma_t, as float32 values. */
  readonly logSigmas: Float64Array
  /** sigma_0 (0.0292 for SD). */
  readonly sigmaMin: number
  /** sigma_999 (14.6146 for SD). */
  readonly sigmaMax: number
}

/**
 * k-diffusion's view of a model's ᾱ table (CompVis `alphas_cumprod`, float32): by default SD's scaled-linear
 * schedule, the one training uses (`noiseSchedule`).
 */
export const discreteSchedule = (
  alphasCumprod: ArrayLike<number> = noiseSchedule().alphasCumprod,
): DiscreteSchedule => {
  const steps = alphasCumprod.length
  const alphas = new Float64Array(steps)
  const sigmas = new Float64Array(steps)
  const logSigmas = new Float64Array(steps)
  for (let t = 0; t < steps; t++) {
    const alpha = Math.fround(alphasCumprod[t]!)
    alphas[t] = alpha
    // Rounded after every operation, as float32 tensors compute it.
    sigmas[t] = Math.fround(Math.sqrt(Math.fround(Math.fround(1 - alpha) / alpha)))
    logSigmas[t] = Math.fround(Math.log(sigmas[t]!))
  }
  return { alphasCumprod: alphas, sigmas, logSigmas, sigmaMin: sigmas[0]!, sigmaMax: sigmas[steps - 1]! }
}

/**
 * The fractional timestep of a noise level (k-diffusion `sigma_to_t`, not quantized as A1111 runs it):
 * interpolate between the neighbouring table entries in log sigma, clamped to the table's ends.
 */
export const sigmaToT = (schedule: DiscreteSchedule, sigma: number): number => {
  const logSigmas = schedule.logSigmas
  const logSigma = Math.log(sigma)
  let low = 0
  for (let t = 0; t < logSigmas.length; t++) if (logSigmas[t]! <= logSigma) low = t
  low = Math.min(low, logSigmas.length - 2)
  const w = (logSigmas[low]! - logSigma) / (logSigmas[low]! - logSigmas[low + 1]!)
  return low + Math.min(Math.max(w, 0), 1)
}

/** The noise level of a fractional timestep (k-diffusion `t_to_sigma`). */
export const tToSigma = (schedule: DiscreteSchedule, t: number): number => {
  const low = Math.floor(t)
  const high = Math.ceil(t)
  const w = t - low
  return Math.exp((1 - w) * schedule.logSigmas[low]! + w * schedule.logSigmas[high]!)
}
