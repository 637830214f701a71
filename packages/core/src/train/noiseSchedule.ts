/** `num_train_timesteps` of SD's DDPM schedule. */
export const TRAIN_TIMESTEPS = 1000

/** The DDPM tables a training step reads, indexed by integer timestep. */
export interface NoiseSchedule {
  /** ᾱ_t, after the zero-terminal-SNR rescale when asked for. */
  readonly alphasCumprod: Float32Array
  /**
   * ᾱ/(1 − ᾱ) of the ORIGINAL schedule: kohya computes `all_snr` before `--zero_terminal_snr` rescales the
   * betas, so min-SNR, debiased and v-like weights keep the unrescaled values.
   */
  readonly snr: Float32Array
}

/**
 * SD's scaled-linear betas (0.00085 → 0.012 in √-space, diffusers `DDPMScheduler` as kohya builds it),
 * accumulated in f64 and stored in f32 as CompVis `make_beta_schedule` does.
 */
const scaledLinearAlphasCumprod = (): Float64Array => {
  const start = Math.sqrt(0.00085)
  const end = Math.sqrt(0.012)
  const out = new Float64Array(TRAIN_TIMESTEPS)
  let product = 1
  for (let t = 0; t < TRAIN_TIMESTEPS; t++) {
    const root = start + ((end - start) * t) / (TRAIN_TIMESTEPS - 1)
    product *= 1 - root * root
    out[t] = Math.fround(product)
  }
  return out
}

/**
 * Lin et al. (arXiv:2305.08891) as kohya's `fix_noise_scheduler_betas_for_zero_terminal_snr`: shift and scale
 * √ᾱ so the last step is pure noise while the first is unchanged, then rebuild the betas and re-accumulate.
 */
const zeroTerminalSnr = (alphasCumprod: Float64Array): Float64Array => {
  const roots = alphasCumprod.map(Math.sqrt)
  const first = roots[0]!
  const last = roots[roots.length - 1]!
  const bars = roots.map((r) => ((r - last) * first) / (first - last)).map((r) => r * r)
  const out = new Float64Array(bars.length)
  let product = 1
  for (let t = 0; t < bars.length; t++) {
    const alpha = t === 0 ? bars[0]! : bars[t]! / bars[t - 1]!
    product *= alpha
    out[t] = Math.fround(product)
  }
  return out
}

/** SD's training schedule, optionally rescaled to zero terminal SNR (`--zero_terminal_snr`). */
export const noiseSchedule = (options: { readonly zeroTerminalSnr?: boolean } = {}): NoiseSchedule => {
  const original = scaledLinearAlphasCumprod()
  const snr = Float32Array.from(original, (a) => a / (1 - a))
  const alphasCumprod = Float32Array.from(options.zeroTerminalSnr ? zeroTerminalSnr(original) : original)
  return { alphasCumprod, snr }
}
