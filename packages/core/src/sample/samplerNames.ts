import { Data } from "effect"
import type { DiscreteSchedule } from "./discreteSchedule.js"
import { exponentialSigmas, karrasSigmas, uniformSigmas } from "./sigmaSchedules.js"

/** The samplers danlu runs, by their A1111 names. */
export const samplerNames = ["Euler", "Euler a", "Heun", "DPM++ 2M", "DPM++ SDE", "DDIM"] as const
export type SamplerName = (typeof samplerNames)[number]

/** A1111's schedule types ("Schedule type"), by their A1111 names. */
export const schedulerNames = ["automatic", "uniform", "karras", "exponential"] as const
export type SchedulerName = (typeof schedulerNames)[number]

/** The label A1111 writes as "Schedule type" in a PNG's parameters. */
export const schedulerLabels: Readonly<Record<SchedulerName, string>> = {
  automatic: "Automatic",
  uniform: "Uniform",
  karras: "Karras",
  exponential: "Exponential",
}

/**
 * The schedule a sampler carries in A1111 1.9+ (`sd_samplers_kdiffusion.py` option `scheduler`): DPM++ 2M and
 * DPM++ SDE carry Karras. The others carry none, and "Automatic" gives them the model's own sigmas (the
 * same as "Uniform"). DDIM walks DDPM timesteps and has no schedule type.
 */
const samplerScheduler: Partial<Record<SamplerName, SchedulerName>> = {
  "DPM++ 2M": "karras",
  "DPM++ SDE": "karras",
}

/** A sampler or schedule name A1111 would not know. */
export class SamplerNameError extends Data.TaggedError("SamplerNameError")<{
  readonly message: string
  readonly name: string
  readonly known: ReadonlyArray<string>
}> {}

export interface SamplerChoice {
  readonly sampler: SamplerName
  readonly scheduler: SchedulerName
}

const findScheduler = (name: string): SchedulerName | undefined =>
  schedulerNames.find((s) => s === name || schedulerLabels[s] === name)

/**
 * Reads a sampler name as A1111 does (`sd_samplers.get_sampler_and_scheduler`): a trailing schedule name —
 * label or id, e.g. "DPM++ 2M Karras", "Euler a uniform" — is split off and wins over `scheduler`; the
 * scheduler becomes "automatic" when it is the sampler's own default (so "DPM++ 2M Karras" and "DPM++ 2M"
 * are the same choice). A1111 also accepts its aliases "k_euler", "k_euler_a", "k_heun", "k_dpmpp_2m",
 * "k_dpmpp_sde", "ddim". Fails with `SamplerNameError` for names it would not find.
 */
export const parseSamplerName = (name: string, scheduler: string = "automatic"): SamplerChoice => {
  let chosen = findScheduler(scheduler)
  if (chosen === undefined) {
    throw new SamplerNameError({
      message: `unknown schedule type "${scheduler}"; use one of ${schedulerNames.join(", ")}`,
      name: scheduler,
      known: schedulerNames,
    })
  }
  let base = name.trim()
  for (const s of schedulerNames) {
    const suffix = [schedulerLabels[s], s].find((option) => base.endsWith(` ${option}`))
    if (suffix !== undefined) {
      chosen = s
      base = base.slice(0, -(suffix.length + 1))
      break
    }
  }
  const sampler = samplerNames.find((s) => s === base) ?? samplerAliases[base]
  if (sampler === undefined) {
    throw new SamplerNameError({
      message: `unknown sampler "${name}"; use one of ${samplerNames.join(", ")} (optionally followed by a schedule type, e.g. "DPM++ 2M Karras")`,
      name,
      known: samplerNames,
    })
  }
  // DDIM has no schedule type in A1111: whatever was asked is ignored.
  const automatic = sampler === "DDIM" || samplerScheduler[sampler] === chosen
  return { sampler, scheduler: automatic ? "automatic" : chosen }
}

const samplerAliases: Readonly<Record<string, SamplerName>> = {
  k_euler: "Euler",
  k_euler_a: "Euler a",
  k_euler_ancestral: "Euler a",
  k_heun: "Heun",
  k_dpmpp_2m: "DPM++ 2M",
  k_dpmpp_sde: "DPM++ SDE",
  ddim: "DDIM",
}

/** The schedule a sampler actually runs with once "automatic" is resolved. */
export const resolveScheduler = (choice: SamplerChoice): Exclude<SchedulerName, "automatic"> => {
  const resolved =
    choice.scheduler === "automatic" ? (samplerScheduler[choice.sampler] ?? "uniform") : choice.scheduler
  return resolved as Exclude<SchedulerName, "automatic">
}

/**
 * What A1111 writes as "Schedule type" in a picture's parameters (`KDiffusionSampler.get_sigmas`): the label
 * of the schedule that ran, or nothing when the sampler ran on the model's own sigmas because none was
 * chosen (Euler, Euler a, Heun on "Automatic") and for DDIM.
 */
export const scheduleTypeLabel = (choice: SamplerChoice): string | undefined => {
  if (choice.sampler === "DDIM") return undefined
  if (choice.scheduler === "automatic" && samplerScheduler[choice.sampler] === undefined) return undefined
  return schedulerLabels[resolveScheduler(choice)]
}

/**
 * The sigmas a k-diffusion sampler walks for `steps` steps, as A1111 builds them (`KDiffusionSampler.get_sigmas`):
 * the resolved schedule with the model's sigma_min/sigma_max, ending in 0. None of danlu's samplers is in
 * A1111's "discard next-to-last sigma" family (DPM2, DPM2 a, DPM++ 3M SDE), so no sigma is dropped.
 */
export const samplerSigmas = (
  schedule: DiscreteSchedule,
  choice: SamplerChoice,
  steps: number,
): Float64Array => {
  if (choice.sampler === "DDIM") {
    throw new RangeError("DDIM walks DDPM timesteps, not sigmas; use ddimTimesteps")
  }
  switch (resolveScheduler(choice)) {
    case "uniform":
      return uniformSigmas(schedule, steps)
    case "karras":
      return karrasSigmas(steps, schedule.sigmaMin, schedule.sigmaMax)
    case "exponential":
      return exponentialSigmas(steps, schedule.sigmaMin, schedule.sigmaMax)
  }
}
