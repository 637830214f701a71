/**
 * The discrete noise schedule of the SD UNets (CompVis LDM `register_schedule`, "scaled linear" betas) and
 * k-diffusion's continuous view of it (`k_diffusion/external.py` DiscreteSchedule): sigma_t =
 * sqrt((1 − ᾱ_t)/ᾱ_t) for t = 0 … 999, and t ↔ sigma by interpolating linearly in log sigma.
 *
 * LDM computes ᾱ in float64 and stores it as float32; k-diffusion derives sigmas and log sigmas from that
 * float32 table in float32. So every table here holds float32 values (as f64 numbers), and the arithmetic
 * on them is done in f64.
 */

export interface DiscreteScheduleOptions {
  /** Number of training timesteps (LDM `timesteps`, kohya `num_train_timesteps`). */
  readonly timesteps?: number
  /** LDM `linear_start`. */
  readonly betaStart?: number
  /** LDM `linear_end`. */
  readonly betaEnd?: number
}

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

/** torch.linspace: the first half counts up from `start`, the second half down from `end`. */
export const linspace = (start: number, end: number, n: number): Float64Array => {
  const out = new Float64Array(n)
  if (n === 1) {
    out[0] = start
    return out
  }
  const step = (end - start) / (n - 1)
  const half = Math.floor(n / 2)
  for (let i = 0; i < n; i++) out[i] = i < half ? start + i * step : end - (n - 1 - i) * step
  return out
}

/** The SD schedule: scaled-linear betas from 0.00085 to 0.012 over 1000 steps unless told otherwise. */
export const discreteSchedule = (options: DiscreteScheduleOptions = {}): DiscreteSchedule => {
  const timesteps = options.timesteps ?? 1000
  const roots = linspace(
    Math.sqrt(options.betaStart ?? 0.00085),
    Math.sqrt(options.betaEnd ?? 0.012),
    timesteps,
  )
  const alphasCumprod = new Float64Array(timesteps)
  const sigmas = new Float64Array(timesteps)
  const logSigmas = new Float64Array(timesteps)
  let product = 1
  for (let t = 0; t < timesteps; t++) {
    product *= 1 - roots[t]! ** 2
    const alpha = Math.fround(product)
    alphasCumprod[t] = alpha
    // Rounded after every operation, as float32 tensors compute it.
    sigmas[t] = Math.fround(Math.sqrt(Math.fround(Math.fround(1 - alpha) / alpha)))
    logSigmas[t] = Math.fround(Math.log(sigmas[t]!))
  }
  return { alphasCumprod, sigmas, logSigmas, sigmaMin: sigmas[0]!, sigmaMax: sigmas[timesteps - 1]! }
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
