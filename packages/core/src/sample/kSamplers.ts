import { Effect } from "effect"

/**
 * k-diffusion's samplers (`k_diffusion/sampling.py`) as host loops over a batch of latents in
 * variance-exploding form (x = x0 + sigma·noise), with the defaults A1111 calls them with (eta 1,
 * s_noise 1, no churn). Per-element arithmetic is f64, rounded to f32 once per update.
 */

/** D(x, sigma): the denoised prediction for the latents `x` at noise level `sigma` (same for the whole batch). */
export type Denoiser<E = never, R = never> = (
  x: Float32Array,
  sigma: number,
) => Effect.Effect<Float32Array, E, R>

/**
 * Standard-normal noise the size of the latents for the step from `sigma` to `sigmaNext` (k-diffusion's
 * `noise_sampler`). A plain stream ignores the sigmas; a Brownian one uses them.
 */
export type NoiseSampler = (sigma: number, sigmaNext: number) => Float32Array

/** What a sampler reports after each model evaluation of step `step` (0-based). */
export interface SamplerStep {
  readonly step: number
  readonly steps: number
  readonly sigma: number
  readonly x: Float32Array
  readonly denoised: Float32Array
}

export interface KSamplerOptions<E, R> {
  readonly denoise: Denoiser<E, R>
  /** The starting latents, already at noise level sigmas[0] (A1111: noise · sigmas[0]). Not modified. */
  readonly x: Float32Array
  /** The noise levels to walk, ending in 0. */
  readonly sigmas: ArrayLike<number>
  /** Fresh noise for the ancestral and SDE samplers; the others ignore it. */
  readonly noise?: NoiseSampler
  /** Ancestral noise amount (A1111 "Eta", default 1). */
  readonly eta?: number
  readonly sNoise?: number
  readonly onStep?: (step: SamplerStep) => Effect.Effect<void>
}

const needNoise = (noise: NoiseSampler | undefined, sampler: string): NoiseSampler => {
  if (!noise) throw new RangeError(`${sampler} adds fresh noise every step; give it a noise sampler`)
  return noise
}

const checkLength = (x: Float32Array, other: Float32Array, what: string): Float32Array => {
  if (other.length !== x.length) {
    throw new RangeError(`${what} has ${other.length} values for latents of ${x.length}`)
  }
  return other
}

/** k-diffusion `get_ancestral_step`: the sigma to step down to deterministically, and the noise to add back. */
export const ancestralStep = (sigmaFrom: number, sigmaTo: number, eta = 1): { down: number; up: number } => {
  if (!eta) return { down: sigmaTo, up: 0 }
  const up = Math.min(
    sigmaTo,
    eta * Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2),
  )
  return { down: Math.sqrt(sigmaTo ** 2 - up ** 2), up }
}

const report = <E, R>(
  options: KSamplerOptions<E, R>,
  step: number,
  sigma: number,
  x: Float32Array,
  denoised: Float32Array,
): Effect.Effect<void> =>
  options.onStep
    ? options.onStep({ step, steps: options.sigmas.length - 1, sigma, x, denoised })
    : Effect.void

/** x + (x − D)/sigma · (sigmaTo − sigma): one Euler step of the probability-flow ODE. */
const eulerStep = (x: Float32Array, denoised: Float32Array, sigma: number, sigmaTo: number): Float32Array => {
  const out = new Float32Array(x.length)
  const dt = sigmaTo - sigma
  for (let j = 0; j < x.length; j++) out[j] = x[j]! + ((x[j]! - denoised[j]!) / sigma) * dt
  return out
}

/** a·x + b·y + c·z elementwise (z optional). */
const combine = (
  a: number,
  x: Float32Array,
  b: number,
  y: Float32Array,
  c = 0,
  z?: Float32Array,
): Float32Array => {
  const out = new Float32Array(x.length)
  for (let j = 0; j < x.length; j++) out[j] = a * x[j]! + b * y[j]! + (z ? c * z[j]! : 0)
  return out
}

/** A1111 "Euler": k-diffusion `sample_euler`. */
export const sampleEuler = <E, R>(options: KSamplerOptions<E, R>): Effect.Effect<Float32Array, E, R> =>
  Effect.gen(function* () {
    const { sigmas } = options
    let x = options.x
    for (let i = 0; i < sigmas.length - 1; i++) {
      const sigma = sigmas[i]!
      const denoised = checkLength(x, yield* options.denoise(x, sigma), "the denoiser's output")
      yield* report(options, i, sigma, x, denoised)
      x = eulerStep(x, denoised, sigma, sigmas[i + 1]!)
    }
    return x
  })

/** A1111 "Euler a": k-diffusion `sample_euler_ancestral`. */
export const sampleEulerAncestral = <E, R>(
  options: KSamplerOptions<E, R>,
): Effect.Effect<Float32Array, E, R> =>
  Effect.gen(function* () {
    const { sigmas } = options
    const noise = needNoise(options.noise, "Euler a")
    const sNoise = options.sNoise ?? 1
    let x = options.x
    for (let i = 0; i < sigmas.length - 1; i++) {
      const sigma = sigmas[i]!
      const next = sigmas[i + 1]!
      const denoised = checkLength(x, yield* options.denoise(x, sigma), "the denoiser's output")
      yield* report(options, i, sigma, x, denoised)
      const { down, up } = ancestralStep(sigma, next, options.eta ?? 1)
      x = eulerStep(x, denoised, sigma, down)
      if (next > 0) x = combine(1, x, sNoise * up, checkLength(x, noise(sigma, next), "the noise"))
    }
    return x
  })

/** A1111 "Heun": k-diffusion `sample_heun` (Euler for the last step to sigma 0). */
export const sampleHeun = <E, R>(options: KSamplerOptions<E, R>): Effect.Effect<Float32Array, E, R> =>
  Effect.gen(function* () {
    const { sigmas } = options
    let x = options.x
    for (let i = 0; i < sigmas.length - 1; i++) {
      const sigma = sigmas[i]!
      const next = sigmas[i + 1]!
      const denoised = checkLength(x, yield* options.denoise(x, sigma), "the denoiser's output")
      yield* report(options, i, sigma, x, denoised)
      if (next === 0) {
        x = eulerStep(x, denoised, sigma, next)
        continue
      }
      const x2 = eulerStep(x, denoised, sigma, next)
      const denoised2 = checkLength(x, yield* options.denoise(x2, next), "the denoiser's output")
      const dt = next - sigma
      const out = new Float32Array(x.length)
      for (let j = 0; j < x.length; j++) {
        const d = (x[j]! - denoised[j]!) / sigma
        const d2 = (x2[j]! - denoised2[j]!) / next
        out[j] = x[j]! + ((d + d2) / 2) * dt
      }
      x = out
    }
    return x
  })

/** A1111 "DPM++ 2M": k-diffusion `sample_dpmpp_2m` (DPM-Solver++(2M), Lu et al. 2022). */
export const sampleDpmpp2m = <E, R>(options: KSamplerOptions<E, R>): Effect.Effect<Float32Array, E, R> =>
  Effect.gen(function* () {
    const { sigmas } = options
    let x = options.x
    let oldDenoised: Float32Array | undefined
    for (let i = 0; i < sigmas.length - 1; i++) {
      const sigma = sigmas[i]!
      const next = sigmas[i + 1]!
      const denoised = checkLength(x, yield* options.denoise(x, sigma), "the denoiser's output")
      yield* report(options, i, sigma, x, denoised)
      if (next === 0) {
        // t_next = −ln 0 = ∞: the update is exactly x = D.
        x = denoised
      } else {
        const h = Math.log(sigma) - Math.log(next)
        const blend = -Math.expm1(-h)
        if (!oldDenoised) {
          x = combine(next / sigma, x, blend, denoised)
        } else {
          const hLast = Math.log(sigmas[i - 1]!) - Math.log(sigma)
          const r = hLast / h
          const c = 1 / (2 * r)
          x = combine(next / sigma, x, blend * (1 + c), denoised, -blend * c, oldDenoised)
        }
      }
      oldDenoised = denoised
    }
    return x
  })

/**
 * A1111 "DPM++ SDE": k-diffusion `sample_dpmpp_sde` (DPM-Solver++ stochastic, r = 1/2): a midpoint
 * evaluation at sigma_s = sqrt(sigma · sigma_next), each half with ancestral noise; Euler to sigma 0.
 */
export const sampleDpmppSde = <E, R>(options: KSamplerOptions<E, R>): Effect.Effect<Float32Array, E, R> =>
  Effect.gen(function* () {
    const { sigmas } = options
    const noise = needNoise(options.noise, "DPM++ SDE")
    const eta = options.eta ?? 1
    const sNoise = options.sNoise ?? 1
    const r = 1 / 2
    // k-diffusion works in t = −ln sigma.
    const sigmaOf = (t: number) => Math.exp(-t)
    const tOf = (s: number) => -Math.log(s)
    let x = options.x
    for (let i = 0; i < sigmas.length - 1; i++) {
      const sigma = sigmas[i]!
      const next = sigmas[i + 1]!
      const denoised = checkLength(x, yield* options.denoise(x, sigma), "the denoiser's output")
      yield* report(options, i, sigma, x, denoised)
      if (next === 0) {
        x = eulerStep(x, denoised, sigma, next)
        continue
      }
      const t = tOf(sigma)
      const tNext = tOf(next)
      const s = t + (tNext - t) * r
      const first = ancestralStep(sigmaOf(t), sigmaOf(s), eta)
      const sDown = tOf(first.down)
      let x2 = combine(sigmaOf(sDown) / sigmaOf(t), x, -Math.expm1(t - sDown), denoised)
      x2 = combine(1, x2, sNoise * first.up, checkLength(x, noise(sigmaOf(t), sigmaOf(s)), "the noise"))
      const denoised2 = checkLength(x, yield* options.denoise(x2, sigmaOf(s)), "the denoiser's output")
      const second = ancestralStep(sigmaOf(t), sigmaOf(tNext), eta)
      const nextDown = tOf(second.down)
      const fac = 1 / (2 * r)
      const a = sigmaOf(nextDown) / sigmaOf(t)
      const b = -Math.expm1(t - nextDown)
      x = combine(a, x, b * (1 - fac), denoised, b * fac, denoised2)
      x = combine(1, x, sNoise * second.up, checkLength(x, noise(sigmaOf(t), sigmaOf(tNext)), "the noise"))
    }
    return x
  })
