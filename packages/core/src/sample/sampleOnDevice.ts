import { Effect } from "effect"
import { Backend, type DeviceBuffer, type Program } from "../backend/Backend.js"
import type { BackendError } from "../errors.js"
import { type HostTensor, hostTensor, zerosHost } from "../tensor/hostTensor.js"
import { denoiserNames } from "./denoiserGraph.js"
import { COEFFICIENT_PIECES, coefficientPieces } from "./exactCombination.js"
import type { ImageNoise } from "./noise.js"
import { type SamplerSettings, txt2imgPlan } from "./sample.js"
import { samplerCoefficientRows, samplerProgramNames } from "./samplerGraph.js"
import { drawsNoise, requireNoise, type SamplerEvaluation, type SamplerProgress } from "./samplerPlan.js"

export interface DeviceSampleOptions extends SamplerSettings {
  /** A compiled `samplerGraph`. */
  readonly program: Program
  /** Its other inputs — `cond`, `uncond`, `cfg_scale`, LoRA multipliers, SDXL vectors — as host data or device buffers. */
  readonly inputs: Readonly<Record<string, HostTensor | DeviceBuffer>>
  /** Its other states (the weights). */
  readonly states?: Readonly<Record<string, DeviceBuffer>>
  /** The batch's generators: the initial noise and the sampler's noise come from them, on the host. */
  readonly noise: ImageNoise
  /** Called after each step's first evaluation; the latents stay on the device. */
  readonly onStep?: (progress: SamplerProgress) => Effect.Effect<void>
}

/** An evaluation's coefficients as the program's `sampler_coefficients` input. */
const coefficientInput = (evaluation: SamplerEvaluation): HostTensor<"f32"> => {
  const values: Record<(typeof samplerCoefficientRows)[number], number> = {
    inputScale: evaluation.inputScale,
    addNoise: evaluation.addNoise,
    ...evaluation.update,
  }
  const data = new Float32Array(samplerCoefficientRows.length * COEFFICIENT_PIECES)
  samplerCoefficientRows.forEach((name, row) => {
    data.set(coefficientPieces(values[name]), row * COEFFICIENT_PIECES)
  })
  return hostTensor("f32", [samplerCoefficientRows.length, COEFFICIENT_PIECES], data)
}

/**
 * txt2img sampling (`txt2imgPlan`) with the latents on the device: they go up once (the initial noise
 * times the plan's scale), every evaluation runs the sampler program with its sigma and coefficients and
 * updates them in place, and the host reads them back once, at the end. The noise is drawn on the host
 * from each picture's generator, exactly as the host loop draws it, and uploaded as the evaluation's
 * `noise` input; evaluations that add none read a zero buffer uploaded once. Returns the final latents
 * [B, C, H, W], the same as `sample` gives with the same denoiser (f32 kernels reproduce the host loop's
 * f64 updates to the last bit but for rare ties).
 */
export const sampleOnDevice = (
  options: DeviceSampleOptions,
): Effect.Effect<Float32Array, BackendError, Backend> =>
  Effect.scoped(
    Effect.gen(function* () {
      const backend = yield* Backend
      const { program } = options
      const spec = program.states.find((s) => s.name === samplerProgramNames.latents)
      if (!spec) {
        throw new RangeError(
          `the program has no "${samplerProgramNames.latents}" state; build it with samplerGraph`,
        )
      }
      const run = txt2imgPlan(options)
      const initial = options.noise.initial()
      const noise = drawsNoise(run.plan) ? requireNoise(run.plan, run.noise(options.noise)) : undefined
      const start = run.initialScale === 1 ? initial : initial.map((v) => v * run.initialScale)
      const latents = yield* backend.upload(hostTensor("f32", spec.shape, start))
      // Each its own zeros: a backend may keep the uploaded array as the buffer.
      const old = yield* backend.upload(zerosHost("f32", spec.shape))
      const saved = yield* backend.upload(zerosHost("f32", spec.shape))
      const silence = yield* backend.upload(zerosHost("f32", spec.shape))
      const states = {
        ...options.states,
        [samplerProgramNames.latents]: latents,
        [samplerProgramNames.old]: old,
        [samplerProgramNames.saved]: saved,
      }
      const batch = spec.shape[0]!
      for (const evaluation of run.plan.evaluations) {
        const drawn = evaluation.noise && noise!(...evaluation.noise)
        yield* program.run(
          {
            ...options.inputs,
            [denoiserNames.sigma]: hostTensor("f32", [batch], new Float32Array(batch).fill(evaluation.sigma)),
            [samplerProgramNames.coefficients]: coefficientInput(evaluation),
            [samplerProgramNames.noise]: drawn ? hostTensor("f32", spec.shape, drawn) : silence,
          },
          states,
        )
        if (evaluation.step !== undefined && options.onStep) {
          yield* options.onStep({ step: evaluation.step, steps: run.plan.steps, sigma: evaluation.sigma })
        }
      }
      const out = yield* backend.download(latents)
      return out.data as Float32Array
    }),
  )
