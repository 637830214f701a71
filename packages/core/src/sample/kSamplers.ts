import type { Effect } from "effect"
import {
  type Denoiser,
  linearUpdate,
  type NoiseSampler,
  runSamplerPlan,
  type SamplerEvaluation,
  type SamplerPlan,
  type SamplerStep,
  type UpdateCoefficients,
} from "./samplerPlan.js"

/**
 * k-diffusion's samplers (`k_diffusion/sampling.py`) over a batch of latents in variance-exploding form
 * (x = x0 + sigma·noise), with the defaults A1111 calls them with (eta 1, s_noise 1, no churn), as
 * `SamplerPlan`s: each update is the linear combination k-diffusion computes, rounded to f32 where the
 * host loops round (once per k-diffusion statement).
 */

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

/** k-diffusion `get_ancestral_step`: the sigma to step down to deterministically, and the noise to add back. */
export const ancestralStep = (sigmaFrom: number, sigmaTo: number, eta = 1): { down: number; up: number } => {
  if (!eta) return { down: sigmaTo, up: 0 }
  const up = Math.min(
    sigmaTo,
    eta * Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2),
  )
  return { down: Math.sqrt(sigmaTo ** 2 - up ** 2), up }
}

/** x + (x − D)/sigma · (sigmaTo − sigma): one Euler step of the probability-flow ODE. */
const euler = (sigma: number, sigmaTo: number): UpdateCoefficients => {
  const ratio = (sigmaTo - sigma) / sigma
  return linearUpdate({ x: 1 + ratio, denoised: -ratio })
}

/** Step `step`'s first evaluation, at sigma, with no noise. */
const plainStep = (sigma: number, step: number, coefficients: UpdateCoefficients): SamplerEvaluation => ({
  sigma,
  inputScale: 1,
  update: coefficients,
  addNoise: 0,
  step,
})

/** The sampling options a plan is made from. */
export interface KPlanOptions {
  readonly sigmas: ArrayLike<number>
  readonly eta?: number
  readonly sNoise?: number
}

const plan = (
  name: string,
  options: KPlanOptions,
  step: (i: number, sigma: number, next: number) => ReadonlyArray<SamplerEvaluation>,
): SamplerPlan => {
  const { sigmas } = options
  const evaluations: Array<SamplerEvaluation> = []
  for (let i = 0; i < sigmas.length - 1; i++) evaluations.push(...step(i, sigmas[i]!, sigmas[i + 1]!))
  return { name, steps: sigmas.length - 1, evaluations }
}

/** A1111 "Euler": k-diffusion `sample_euler`. */
export const eulerPlan = (options: KPlanOptions): SamplerPlan =>
  plan("Euler", options, (i, sigma, next) => [plainStep(sigma, i, euler(sigma, next))])

/** A1111 "Euler a": k-diffusion `sample_euler_ancestral` (the noise is drawn whenever sigma_next > 0). */
export const eulerAncestralPlan = (options: KPlanOptions): SamplerPlan =>
  plan("Euler a", options, (i, sigma, next) => {
    const { down, up } = ancestralStep(sigma, next, options.eta ?? 1)
    const step = plainStep(sigma, i, euler(sigma, down))
    return [next > 0 ? { ...step, noise: [sigma, next], addNoise: (options.sNoise ?? 1) * up } : step]
  })

/** A1111 "Heun": k-diffusion `sample_heun` (Euler for the last step to sigma 0). */
export const heunPlan = (options: KPlanOptions): SamplerPlan =>
  plan("Heun", options, (i, sigma, next) => {
    const first = plainStep(sigma, i, euler(sigma, next))
    if (next === 0) return [first]
    // x_saved + ((x_saved − D_old)/sigma + (x − D)/next)/2 · (next − sigma).
    const dt = next - sigma
    const second = linearUpdate({
      saved: 1 + dt / (2 * sigma),
      old: -dt / (2 * sigma),
      x: dt / (2 * next),
      denoised: -dt / (2 * next),
    })
    return [first, { sigma: next, inputScale: 1, update: second, addNoise: 0 }]
  })

/** A1111 "DPM++ 2M": k-diffusion `sample_dpmpp_2m` (DPM-Solver++(2M), Lu et al. 2022). */
export const dpmpp2mPlan = (options: KPlanOptions): SamplerPlan =>
  plan("DPM++ 2M", options, (i, sigma, next) => {
    // t_next = −ln 0 = ∞: the update is exactly x = D.
    if (next === 0) return [plainStep(sigma, i, linearUpdate({ denoised: 1 }))]
    const h = Math.log(sigma) - Math.log(next)
    const blend = -Math.expm1(-h)
    if (i === 0) return [plainStep(sigma, i, linearUpdate({ x: next / sigma, denoised: blend }))]
    const hLast = Math.log(options.sigmas[i - 1]!) - Math.log(sigma)
    const c = 1 / (2 * (hLast / h))
    return [
      plainStep(sigma, i, linearUpdate({ x: next / sigma, denoised: blend * (1 + c), old: -blend * c })),
    ]
  })

/**
 * A1111 "DPM++ SDE": k-diffusion `sample_dpmpp_sde` (DPM-Solver++ stochastic, r = 1/2): a midpoint
 * evaluation at sigma_s = sqrt(sigma · sigma_next), each half with ancestral noise; Euler to sigma 0.
 */
export const dpmppSdePlan = (options: KPlanOptions): SamplerPlan =>
  plan("DPM++ SDE", options, (i, sigma, next) => {
    if (next === 0) return [plainStep(sigma, i, euler(sigma, next))]
    const eta = options.eta ?? 1
    const sNoise = options.sNoise ?? 1
    const r = 1 / 2
    // k-diffusion works in t = −ln sigma.
    const sigmaOf = (t: number) => Math.exp(-t)
    const tOf = (s: number) => -Math.log(s)
    const t = tOf(sigma)
    const tNext = tOf(next)
    const s = t + (tNext - t) * r
    const first = ancestralStep(sigmaOf(t), sigmaOf(s), eta)
    const sDown = tOf(first.down)
    const second = ancestralStep(sigmaOf(t), sigmaOf(tNext), eta)
    const nextDown = tOf(second.down)
    const fac = 1 / (2 * r)
    const b = -Math.expm1(t - nextDown)
    return [
      {
        ...plainStep(
          sigma,
          i,
          linearUpdate({ x: sigmaOf(sDown) / sigmaOf(t), denoised: -Math.expm1(t - sDown) }),
        ),
        noise: [sigmaOf(t), sigmaOf(s)],
        addNoise: sNoise * first.up,
      },
      {
        sigma: sigmaOf(s),
        inputScale: 1,
        update: linearUpdate({
          saved: sigmaOf(nextDown) / sigmaOf(t),
          old: b * (1 - fac),
          denoised: b * fac,
        }),
        noise: [sigmaOf(t), sigmaOf(tNext)],
        addNoise: sNoise * second.up,
      },
    ]
  })

const hostLoop =
  (makePlan: (options: KPlanOptions) => SamplerPlan) =>
  <E, R>(options: KSamplerOptions<E, R>): Effect.Effect<Float32Array, E, R> =>
    runSamplerPlan(makePlan(options), options)

/** A1111 "Euler" as a host loop over `denoise`. */
export const sampleEuler = hostLoop(eulerPlan)
/** A1111 "Euler a" as a host loop over `denoise`. */
export const sampleEulerAncestral = hostLoop(eulerAncestralPlan)
/** A1111 "Heun" as a host loop over `denoise`. */
export const sampleHeun = hostLoop(heunPlan)
/** A1111 "DPM++ 2M" as a host loop over `denoise`. */
export const sampleDpmpp2m = hostLoop(dpmpp2mPlan)
/** A1111 "DPM++ SDE" as a host loop over `denoise`. */
export const sampleDpmppSde = hostLoop(dpmppSdePlan)
