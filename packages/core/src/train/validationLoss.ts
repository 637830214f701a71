import type { Graph } from "../graph/graph.js"
import { add, mul } from "../ops/elementwise.js"
import { full, input } from "../ops/sources.js"
import type { Tensor } from "../tensor/tensor.js"
import { NOISE_KEY, philoxDraws, ROUND_STRIDE } from "./draws.js"
import { noiseSchedule, TRAIN_TIMESTEPS } from "./noiseSchedule.js"
import { type Denoise, stepLoss } from "./stepLoss.js"
import { resolveStepOptions, type StepOptions } from "./stepOptions.js"

/** kohya's validation timesteps (`process_val_batch`). */
export const VALIDATION_TIMESTEPS: ReadonlyArray<number> = [10, 350, 500, 650, 990]

export interface ValidationLossSpec {
  readonly latents: Tensor
  readonly denoise: Denoise
  /** The step's loss options (noise source and accumulation do not apply). */
  readonly options?: Omit<StepOptions, "noiseSource" | "gradientAccumulationSteps" | "maxGradNorm">
  /** Every sample is scored at each of these timesteps; default kohya's [10, 350, 500, 650, 990]. */
  readonly timesteps?: ReadonlyArray<number>
}

/**
 * A held-out loss as kohya computes it: the step's loss at each fixed timestep, averaged over them, with
 * noise from the Philox stream of a `noise_key` input the caller keeps fixed for the whole run, so epochs
 * compare on the same noise. No gradients, no updates. Outputs `loss` and `loss_per_sample` [B].
 */
export const buildValidationLoss = (spec: ValidationLossSpec): { readonly graph: Graph } => {
  const options = resolveStepOptions(spec.options)
  const timesteps = spec.timesteps ?? VALIDATION_TIMESTEPS
  if (timesteps.length === 0 || timesteps.length > 65536 / ROUND_STRIDE) {
    throw new RangeError(`validation takes 1 to ${65536 / ROUND_STRIDE} timesteps, got ${timesteps.length}`)
  }
  for (const t of timesteps) {
    if (!Number.isInteger(t) || t < 0 || t >= TRAIN_TIMESTEPS) {
      throw new RangeError(`a validation timestep must be an integer in [0, ${TRAIN_TIMESTEPS}), got ${t}`)
    }
  }
  const schedule = noiseSchedule(options)
  const key = input(NOISE_KEY, [4], "u32")
  const batch = spec.latents.shape[0]!
  const losses = timesteps.map((t, round) =>
    stepLoss(spec.latents, full(t, [batch], "i32"), spec.denoise, philoxDraws(key, round), schedule, {
      ...options,
      noiseSource: "philox",
    }),
  )
  const average = (pick: (l: (typeof losses)[number]) => Tensor): Tensor =>
    mul(
      losses.map(pick).reduce((a, b) => add(a, b)),
      1 / losses.length,
    )
  return {
    graph: { outputs: { loss: average((l) => l.loss), loss_per_sample: average((l) => l.perSample) } },
  }
}
