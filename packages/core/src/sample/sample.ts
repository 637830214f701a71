import { Effect } from "effect"
import { ddimPlan } from "./ddim.js"
import { type DiscreteSchedule, discreteSchedule } from "./discreteSchedule.js"
import { dpmpp2mPlan, dpmppSdePlan, eulerAncestralPlan, eulerPlan, heunPlan } from "./kSamplers.js"
import type { ImageNoise } from "./noise.js"
import { type SamplerName, type SchedulerName, samplerSigmas } from "./samplerNames.js"
import {
  type Denoiser,
  type NoiseSampler,
  runSamplerPlan,
  type SamplerPlan,
  type SamplerStep,
} from "./samplerPlan.js"
import { ddimTimesteps } from "./sigmaSchedules.js"

/** A sampler as A1111 names it, with its schedule and step count. */
export interface SamplerSettings {
  readonly sampler: SamplerName
  readonly scheduler?: SchedulerName
  readonly steps: number
  /** The model's discrete schedule (default SD's). */
  readonly schedule?: DiscreteSchedule
  /** Ancestral eta: A1111 "Eta" for Euler a and DPM++ SDE (default 1), "Eta DDIM" for DDIM (default 0). */
  readonly eta?: number
}

export interface SampleOptions<E, R> extends SamplerSettings {
  readonly denoise: Denoiser<E, R>
  /** The batch's generators; `sample` draws the initial noise and the sampler's noise from it. */
  readonly noise: ImageNoise
  readonly onStep?: (step: SamplerStep) => Effect.Effect<void>
}

/** A txt2img run of a sampler: its plan, what the initial noise is scaled by, and its noise sampler. */
export interface Txt2ImgPlan {
  readonly plan: SamplerPlan
  /** k-diffusion samplers start from noise · sigmas[0], DDIM from the plain noise. */
  readonly initialScale: number
  /** The sampler's fresh noise, for plans that draw it (call after the initial noise is drawn). */
  readonly noise: (noise: ImageNoise) => NoiseSampler | undefined
}

/**
 * txt2img as A1111 runs it: the initial noise is each picture's first draw; k-diffusion samplers start
 * from noise · sigmas[0] on the sampler's schedule, DDIM from the plain noise on its timesteps; Euler a
 * and DDIM (eta > 0) continue each picture's generator and DPM++ SDE draws from its Brownian trees.
 */
export const txt2imgPlan = (settings: SamplerSettings): Txt2ImgPlan => {
  const schedule = settings.schedule ?? discreteSchedule()
  if (settings.sampler === "DDIM") {
    return {
      plan: ddimPlan({
        schedule,
        timesteps: ddimTimesteps(settings.steps, schedule.sigmas.length),
        eta: settings.eta ?? 0,
      }),
      initialScale: 1,
      noise: (noise) => noise.ancestral(),
    }
  }
  const sigmas = samplerSigmas(
    schedule,
    { sampler: settings.sampler, scheduler: settings.scheduler ?? "automatic" },
    settings.steps,
  )
  const options = { sigmas, eta: settings.eta ?? 1 }
  const plain = (plan: SamplerPlan): Txt2ImgPlan => ({
    plan,
    initialScale: sigmas[0]!,
    noise: () => undefined,
  })
  switch (settings.sampler) {
    case "Euler":
      return plain(eulerPlan(options))
    case "Euler a":
      return { ...plain(eulerAncestralPlan(options)), noise: (noise) => noise.ancestral() }
    case "Heun":
      return plain(heunPlan(options))
    case "DPM++ 2M":
      return plain(dpmpp2mPlan(options))
    case "DPM++ SDE":
      return { ...plain(dpmppSdePlan(options)), noise: (noise) => noise.brownian(sigmas) }
  }
}

/**
 * txt2img sampling as a host loop over `denoise` (see `txt2imgPlan`). Returns the final latents
 * [B, C, H, W] (decode them with the VAE after dividing by its scale factor).
 */
export const sample = <E, R>(options: SampleOptions<E, R>): Effect.Effect<Float32Array, E, R> =>
  // Suspended so the noise is drawn when the effect runs, not when it is built.
  Effect.suspend(() => {
    const run = txt2imgPlan(options)
    const initial = options.noise.initial()
    const noise = run.noise(options.noise)
    return runSamplerPlan(run.plan, {
      denoise: options.denoise,
      x: run.initialScale === 1 ? initial : initial.map((v) => v * run.initialScale),
      ...(noise ? { noise } : {}),
      ...(options.onStep ? { onStep: options.onStep } : {}),
    })
  })
