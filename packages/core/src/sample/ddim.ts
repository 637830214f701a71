import type { Effect } from "effect"
import type { DiscreteSchedule } from "./discreteSchedule.js"
import {
  type Denoiser,
  linearUpdate,
  type NoiseSampler,
  runSamplerPlan,
  type SamplerEvaluation,
  type SamplerPlan,
  type SamplerStep,
} from "./samplerPlan.js"

export interface DdimPlanOptions {
  readonly schedule: DiscreteSchedule
  /** The DDPM timesteps, ascending (`ddimTimesteps`). */
  readonly timesteps: ArrayLike<number>
  /** A1111 "Eta DDIM" (default 0: deterministic). */
  readonly eta?: number
}

export interface DdimOptions<E, R> extends DdimPlanOptions {
  readonly denoise: Denoiser<E, R>
  /** Standard-normal starting latents (DDIM starts from plain noise, not noise · sigma_max). Not modified. */
  readonly x: Float32Array
  /** Fresh noise for eta > 0. */
  readonly noise?: NoiseSampler
  readonly onStep?: (step: SamplerStep) => Effect.Effect<void>
}

/**
 * A1111's DDIM (`sd_samplers_timesteps_impl.py` ddim): from the last timestep down to the second, each
 * step predicts x0 and eps at ᾱ_t and moves to ᾱ_prev (the next lower listed timestep), adding
 * eta-scaled noise. The latents stay in DDPM (variance-preserving) form; the model is asked through the
 * same D(x, sigma) as the k-diffusion samplers, at sigma_t with x/sqrt(ᾱ_t), where D is the predicted x0
 * and eps = (x/sqrt(ᾱ_t) − D)/sigma_t — the same numbers A1111 gets from the UNet at integer t. The
 * update sqrt(ᾱ_prev)·D + sqrt(1 − ᾱ_prev − std²)·eps + std·noise is linear in x, D and the noise.
 */
export const ddimPlan = (options: DdimPlanOptions): SamplerPlan => {
  const { schedule, timesteps } = options
  const eta = options.eta ?? 0
  const steps = timesteps.length - 1
  const evaluations: Array<SamplerEvaluation> = []
  for (let i = 0; i < steps; i++) {
    const index = timesteps.length - 1 - i
    const t = timesteps[index]!
    const previous = timesteps[index - 1]!
    const a = schedule.alphasCumprod[t]!
    const aPrev = schedule.alphasCumprod[previous]!
    const sigma = schedule.sigmas[t]!
    const toVe = 1 / Math.sqrt(a)
    const std = eta * Math.sqrt(((1 - aPrev) / (1 - a)) * (1 - a / aPrev))
    const toward = Math.sqrt(1 - aPrev - std ** 2)
    const keep = Math.sqrt(aPrev)
    evaluations.push({
      sigma,
      inputScale: toVe,
      update: linearUpdate({ x: (toward * toVe) / sigma, denoised: keep - toward / sigma, noise: std }),
      addNoise: 0,
      ...(std > 0 ? { noise: [sigma, schedule.sigmas[previous]!] as const } : {}),
      step: i,
    })
  }
  return { name: "DDIM", steps, evaluations }
}

/** A1111's DDIM as a host loop over `denoise`. */
export const sampleDdim = <E, R>(options: DdimOptions<E, R>): Effect.Effect<Float32Array, E, R> =>
  runSamplerPlan(ddimPlan(options), options)
