import { Effect } from "effect"
import type { DiscreteSchedule } from "./discreteSchedule.js"
import type { Denoiser, NoiseSampler, SamplerStep } from "./kSamplers.js"

export interface DdimOptions<E, R> {
  readonly denoise: Denoiser<E, R>
  /** Standard-normal starting latents (DDIM starts from plain noise, not noise · sigma_max). Not modified. */
  readonly x: Float32Array
  readonly schedule: DiscreteSchedule
  /** The DDPM timesteps, ascending (`ddimTimesteps`). */
  readonly timesteps: ArrayLike<number>
  /** A1111 "Eta DDIM" (default 0: deterministic). */
  readonly eta?: number
  /** Fresh noise for eta > 0. */
  readonly noise?: NoiseSampler
  readonly onStep?: (step: SamplerStep) => Effect.Effect<void>
}

/**
 * A1111's DDIM (`sd_samplers_timesteps_impl.py` ddim): from the last timestep down to the second, each
 * step predicts x0 and eps at ᾱ_t and moves to ᾱ_prev (the next lower listed timestep), adding
 * eta-scaled noise. The latents stay in DDPM (variance-preserving) form; the model is asked through the
 * same D(x, sigma) as the k-diffusion samplers, at sigma_t with x/sqrt(ᾱ_t), where D is the predicted x0
 * and eps = (x/sqrt(ᾱ_t) − D)/sigma_t — the same numbers A1111 gets from the UNet at integer t.
 */
export const sampleDdim = <E, R>(options: DdimOptions<E, R>): Effect.Effect<Float32Array, E, R> =>
  Effect.gen(function* () {
    const { schedule, timesteps } = options
    const eta = options.eta ?? 0
    if (eta > 0 && !options.noise)
      throw new RangeError("DDIM with eta > 0 adds noise; give it a noise sampler")
    const steps = timesteps.length - 1
    let x = options.x
    for (let i = 0; i < steps; i++) {
      const index = timesteps.length - 1 - i
      const t = timesteps[index]!
      const a = schedule.alphasCumprod[t]!
      const aPrev = schedule.alphasCumprod[timesteps[index - 1]!]!
      const sigma = schedule.sigmas[t]!
      const scaled = new Float32Array(x.length)
      const toVe = 1 / Math.sqrt(a)
      for (let j = 0; j < x.length; j++) scaled[j] = x[j]! * toVe
      const denoised = yield* options.denoise(scaled, sigma)
      if (denoised.length !== x.length) {
        throw new RangeError(`the denoiser's output has ${denoised.length} values for latents of ${x.length}`)
      }
      if (options.onStep) yield* options.onStep({ step: i, steps, sigma, x, denoised })
      const std = eta * Math.sqrt(((1 - aPrev) / (1 - a)) * (1 - a / aPrev))
      const noise = std > 0 ? options.noise!(sigma, schedule.sigmas[timesteps[index - 1]!]!) : undefined
      const toward = Math.sqrt(1 - aPrev - std ** 2)
      const keep = Math.sqrt(aPrev)
      const out = new Float32Array(x.length)
      for (let j = 0; j < x.length; j++) {
        const eps = (x[j]! * toVe - denoised[j]!) / sigma
        out[j] = keep * denoised[j]! + toward * eps + (noise ? std * noise[j]! : 0)
      }
      x = out
    }
    return x
  })
