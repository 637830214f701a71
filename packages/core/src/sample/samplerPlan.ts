import { Effect } from "effect"

/**
 * A sampler as a list of model evaluations, each followed by an update of the latents that is a linear
 * combination of what the sampler holds — so the same plan runs as a host loop (`runSamplerPlan`) or on
 * the device (`sampleOnDevice`), where the latents never leave between steps.
 *
 * A sampler holds the latents x and, from its previous evaluation, that evaluation's denoised output
 * (`old`: DPM++ 2M's D_{i−1}, Heun's and DPM++ SDE's first-stage D) and its input latents (`saved`: the
 * x a two-stage step started from). After every evaluation old ← D and saved ← x (before the update).
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

/** The coefficients of one update: x ← x·x + denoised·D + old·old + saved·saved + noise·n. */
export interface UpdateCoefficients {
  readonly x: number
  readonly denoised: number
  readonly old: number
  readonly saved: number
  readonly noise: number
}

export interface SamplerEvaluation {
  /** The noise level the model is asked at. */
  readonly sigma: number
  /** The model sees x · inputScale, rounded to f32: 1 for k-diffusion, 1/sqrt(ᾱ_t) for DDIM's latents. */
  readonly inputScale: number
  /** The update, rounded to f32 once (where the host samplers round). */
  readonly update: UpdateCoefficients
  /** Then x ← x + addNoise · n, rounded again, when the sampler adds its noise as an operation of its own. */
  readonly addNoise: number
  /** The sigmas this evaluation's noise is drawn for; absent when it draws none. */
  readonly noise?: readonly [sigma: number, sigmaNext: number]
  /** The 0-based step this evaluation is the first of; absent for a step's second evaluation. */
  readonly step?: number
}

export interface SamplerPlan {
  /** The sampler's A1111 name, for messages. */
  readonly name: string
  readonly steps: number
  readonly evaluations: ReadonlyArray<SamplerEvaluation>
}

/** Where a sampler is, reported once per step after the step's first model evaluation (0-based). */
export interface SamplerProgress {
  readonly step: number
  readonly steps: number
  readonly sigma: number
}

/** A host loop's report: the progress, with the step's latents and its first denoised output. */
export interface SamplerStep extends SamplerProgress {
  readonly x: Float32Array
  readonly denoised: Float32Array
}

const none: UpdateCoefficients = { x: 0, denoised: 0, old: 0, saved: 0, noise: 0 }

/** An update with the given coefficients, the others 0. */
export const linearUpdate = (coefficients: Partial<UpdateCoefficients>): UpdateCoefficients => ({
  ...none,
  ...coefficients,
})

/** Whether a plan draws noise anywhere (then it needs a noise sampler). */
export const drawsNoise = (plan: SamplerPlan): boolean => plan.evaluations.some((e) => e.noise !== undefined)

export const requireNoise = (plan: SamplerPlan, noise: NoiseSampler | undefined): NoiseSampler => {
  if (!noise) throw new RangeError(`${plan.name} adds fresh noise; give it a noise sampler`)
  return noise
}

const checkLength = (x: Float32Array, other: Float32Array, what: string): Float32Array => {
  if (other.length !== x.length) {
    throw new RangeError(`${what} has ${other.length} values for latents of ${x.length}`)
  }
  return other
}

/** The update in f64, rounded to f32 once; terms with a zero coefficient are left out. */
const applyUpdate = (
  c: UpdateCoefficients,
  x: Float32Array,
  denoised: Float32Array,
  old: Float32Array,
  saved: Float32Array,
  noise: Float32Array | undefined,
): Float32Array => {
  const terms: Array<[number, Float32Array]> = []
  if (c.x) terms.push([c.x, x])
  if (c.denoised) terms.push([c.denoised, denoised])
  if (c.old) terms.push([c.old, old])
  if (c.saved) terms.push([c.saved, saved])
  if (c.noise && noise) terms.push([c.noise, noise])
  const out = new Float32Array(x.length)
  for (let j = 0; j < out.length; j++) {
    let v = 0
    for (const [coefficient, values] of terms) v += coefficient * values[j]!
    out[j] = v
  }
  return out
}

export interface HostPlanOptions<E, R> {
  readonly denoise: Denoiser<E, R>
  /** The starting latents. Not modified. */
  readonly x: Float32Array
  /** Fresh noise, for plans that draw it. */
  readonly noise?: NoiseSampler
  readonly onStep?: (step: SamplerStep) => Effect.Effect<void>
}

/**
 * Runs a plan as a host loop: each evaluation calls `denoise` with the latents (scaled by its
 * `inputScale`) and applies the update in f64 per element, rounded to f32 once per update.
 */
export const runSamplerPlan = <E, R>(
  plan: SamplerPlan,
  options: HostPlanOptions<E, R>,
): Effect.Effect<Float32Array, E, R> =>
  Effect.gen(function* () {
    const noise = drawsNoise(plan) ? requireNoise(plan, options.noise) : undefined
    let x: Float32Array = options.x
    let old: Float32Array = new Float32Array(x.length)
    let saved = old
    for (const evaluation of plan.evaluations) {
      const input = evaluation.inputScale === 1 ? x : x.map((v) => v * evaluation.inputScale)
      const denoised = checkLength(
        x,
        yield* options.denoise(input, evaluation.sigma),
        "the denoiser's output",
      )
      if (evaluation.step !== undefined && options.onStep) {
        yield* options.onStep({
          step: evaluation.step,
          steps: plan.steps,
          sigma: evaluation.sigma,
          x,
          denoised,
        })
      }
      const drawn = evaluation.noise && checkLength(x, noise!(...evaluation.noise), "the noise")
      let next = applyUpdate(evaluation.update, x, denoised, old, saved, drawn)
      if (evaluation.addNoise && drawn) {
        next = applyUpdate(linearUpdate({ x: 1, noise: evaluation.addNoise }), next, next, next, next, drawn)
      }
      old = denoised
      saved = x
      x = next
    }
    return x
  })
