import { Effect } from "effect"
import { sampleDdim } from "./ddim.js"
import { type DiscreteSchedule, discreteSchedule } from "./discreteSchedule.js"
import {
  type Denoiser,
  type KSamplerOptions,
  type SamplerStep,
  sampleDpmpp2m,
  sampleDpmppSde,
  sampleEuler,
  sampleEulerAncestral,
  sampleHeun,
} from "./kSamplers.js"
import type { ImageNoise } from "./noise.js"
import { type SamplerName, type SchedulerName, samplerSigmas } from "./samplerNames.js"
import { ddimTimesteps } from "./sigmaSchedules.js"

export interface SampleOptions<E, R> {
  readonly sampler: SamplerName
  readonly scheduler?: SchedulerName
  readonly steps: number
  readonly denoise: Denoiser<E, R>
  /** The batch's generators; `sample` draws the initial noise and the sampler's noise from it. */
  readonly noise: ImageNoise
  /** The model's discrete schedule (default SD's). */
  readonly schedule?: DiscreteSchedule
  /** Ancestral eta: A1111 "Eta" for Euler a and DPM++ SDE (default 1), "Eta DDIM" for DDIM (default 0). */
  readonly eta?: number
  readonly onStep?: (step: SamplerStep) => Effect.Effect<void>
}

/**
 * txt2img sampling as A1111 runs it: the initial noise is each picture's first draw; k-diffusion samplers
 * start from noise · sigmas[0] on the sampler's schedule, DDIM from the plain noise on its timesteps;
 * Euler a continues each picture's generator and DPM++ SDE draws from its Brownian trees. Returns the
 * final latents [B, C, H, W] (decode them with the VAE after dividing by its scale factor).
 */
export const sample = <E, R>(options: SampleOptions<E, R>): Effect.Effect<Float32Array, E, R> =>
  // Suspended so the noise is drawn when the effect runs, not when it is built.
  Effect.suspend(() => {
    const schedule = options.schedule ?? discreteSchedule()
    const initial = options.noise.initial()
    const onStep = options.onStep ? { onStep: options.onStep } : {}
    if (options.sampler === "DDIM") {
      return sampleDdim({
        denoise: options.denoise,
        x: initial,
        schedule,
        timesteps: ddimTimesteps(options.steps, schedule.sigmas.length),
        eta: options.eta ?? 0,
        noise: options.noise.ancestral(),
        ...onStep,
      })
    }
    const sigmas = samplerSigmas(
      schedule,
      { sampler: options.sampler, scheduler: options.scheduler ?? "automatic" },
      options.steps,
    )
    const start = sigmas[0]!
    const run: KSamplerOptions<E, R> = {
      denoise: options.denoise,
      x: initial.map((v) => v * start),
      sigmas,
      eta: options.eta ?? 1,
      ...onStep,
    }
    switch (options.sampler) {
      case "Euler":
        return sampleEuler(run)
      case "Euler a":
        return sampleEulerAncestral({ ...run, noise: options.noise.ancestral() })
      case "Heun":
        return sampleHeun(run)
      case "DPM++ 2M":
        return sampleDpmpp2m(run)
      case "DPM++ SDE":
        return sampleDpmppSde({ ...run, noise: options.noise.brownian(sigmas) })
    }
  })
