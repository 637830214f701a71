import { grad } from "../autodiff/grad.js"
import type { Graph } from "../graph/graph.js"
import { add, div, greater, minimum, mul, sqrt, square, where } from "../ops/elementwise.js"
import { sum } from "../ops/reduce.js"
import { input, state, zeros } from "../ops/sources.js"
import { stateOwner } from "../optim/optimizer.js"
import type { DType } from "../tensor/dtype.js"
import { type HostTensor, zerosHost } from "../tensor/hostTensor.js"
import type { Tensor } from "../tensor/tensor.js"
import { inputDraws, NOISE_KEY, philoxDraws } from "./draws.js"
import { f32Reads, heldUpdates, isHalfHeld } from "./heldStates.js"
import { noiseSchedule } from "./noiseSchedule.js"
import { type Denoise, stepInputNames, stepLoss } from "./stepLoss.js"
import { drawTimesteps } from "./stepNoise.js"
import { resolveStepOptions, type StepOptions } from "./stepOptions.js"

/** Parameters trained with one learning rate (a kohya param group: UNet LoRA, text-encoder LoRA, ...). */
export interface TrainableGroup {
  readonly trainables: ReadonlyArray<Tensor<"state">>
  /** f32 scalar, normally an input so a schedule changes it without recompiling. */
  readonly lr: Tensor
  /**
   * f32 scalar input, 1 or 0: at 0 the group gets no gradient (none in the clipped norm either) and its
   * parameters and optimizer states keep their values, as a module whose `requires_grad` kohya turned off
   * mid-run (`stop_text_encoder_training`). One program serves both phases.
   */
  readonly active?: Tensor
}

/** A group with the (accumulated, clipped) gradient of each parameter. */
export interface GradientGroup {
  readonly trainables: ReadonlyArray<{ readonly param: Tensor<"state">; readonly grad: Tensor }>
  readonly lr: Tensor
}

/** An optimizer as graph updates: the new value of every parameter and optimizer state, by state name. */
export interface StepOptimizer {
  update(groups: ReadonlyArray<GradientGroup>, step: Tensor): Record<string, Tensor>
}

export interface TrainingStepSpec {
  /** The batch's scaled latents [B, C, H, W], normally an input. */
  readonly latents: Tensor
  /** Builds the model (UNet with its text context and LoRA adapters) on the noisy latents. */
  readonly denoise: Denoise
  /**
   * The trained parameters by learning-rate group; a function is called after `denoise` has built the
   * model, for networks (LoRA) whose state tensors exist only once the model asked for them.
   */
  readonly groups: ReadonlyArray<TrainableGroup> | (() => ReadonlyArray<TrainableGroup>)
  readonly optimizer: StepOptimizer
  /**
   * The optimizer's starting states (`Optimizer.initialState` of the parameters as held), whose dtypes say
   * how each state is held. With half-held parameters (`full_fp16` / `full_bf16`) a state held in half is
   * read as f32 and its new value rounded to half once; without this map every optimizer state is held as
   * the update computes it (f32).
   */
  readonly optimizerStates?: Readonly<Record<string, { readonly dtype: DType }>>
  readonly options?: StepOptions
}

export interface TrainingStep {
  /**
   * Outputs `loss` (scalar, batch mean, not divided by the accumulation steps), `loss_per_sample` [B] and
   * `grad_norm` (global L2 norm of the gradient the optimizer gets, before clipping; with accumulation, of
   * the micro-steps so far averaged over `gradientAccumulationSteps`). Updates every parameter, the
   * optimizer's states and, with accumulation, the `accum.<param>` gradient sums.
   */
  readonly graph: Graph
  /** Starting values of the step's own states (the zero gradient accumulators); empty without accumulation. */
  readonly initialState: Record<string, HostTensor>
}

/** State name of a parameter's gradient accumulator. */
export const accumulatorName = (param: string): string => `accum.${param}`

/**
 * One LoRA training step as one graph, kohya sd-scripts' arithmetic: noise and timesteps from the Philox
 * stream of the `noise_key` input, noisy latents, forward, target, loss with its weightings, backward,
 * gradient accumulation, torch's `clip_grad_norm_` over all trainables, and the optimizer's update.
 *
 * With `gradientAccumulationSteps` N > 1 one program serves every micro-step: the gradient is added to the
 * `accum.<param>` states, and on the micro-step whose `apply_update` input is 1 the optimizer gets the sum
 * divided by N (accelerate's average), after which the accumulators reset; on the others, parameters and
 * optimizer states keep their values.
 *
 * A trained parameter held in f16/bf16 (kohya's `full_fp16` / `full_bf16`) must be read through a cast to f32;
 * its gradient is taken through that read (f32), the optimizer sees it as an f32 state, and its new value, like
 * each new value of its half-held optimizer states (`optimizerStates`), is rounded to half once when written.
 */
export const buildTrainingStep = (spec: TrainingStepSpec): TrainingStep => {
  const options = resolveStepOptions(spec.options)
  const schedule = noiseSchedule(options)
  const draw = options.noiseSource === "inputs" ? inputDraws : philoxDraws(input(NOISE_KEY, [4], "u32"))
  const timesteps = drawTimesteps(spec.latents.shape[0]!, draw, options)
  const { loss, perSample } = stepLoss(spec.latents, timesteps, spec.denoise, draw, schedule, options)

  const trainableGroups = typeof spec.groups === "function" ? spec.groups() : spec.groups
  const params = trainableGroups.flatMap((g) => g.trainables)
  if (params.length === 0) throw new RangeError("a training step needs at least one trainable parameter")
  const activeOf = trainableGroups.flatMap((g) => g.trainables.map(() => g.active))
  // A half-held parameter is differentiated through its f32 reads, so its gradient is f32 (never rounded).
  const halfParams = params.filter((p) => isHalfHeld(p.dtype))
  const reads = f32Reads(loss, halfParams)
  const wrt = params.map((p) => reads.get(p) ?? [p])
  const flat = grad(loss, wrt.flat())
  let next = 0
  const grads = wrt
    .map((ts, i) =>
      ts.length === 0
        ? zeros(params[i]!.shape, "f32")
        : ts.map(() => flat[next++]!).reduce((a, b) => add(a, b)),
    )
    .map((g, i) => (activeOf[i] ? mul(g, activeOf[i]) : g))
  const accumulating = options.gradientAccumulationSteps > 1
  const apply = accumulating ? greater(input(stepInputNames.applyUpdate, []), 0.5) : undefined
  const updates: Record<string, Tensor> = {}
  const initialState: Record<string, HostTensor> = {}
  const summed = params.map((param, i) => {
    if (!accumulating) return grads[i]!
    const name = accumulatorName(param.attrs.name)
    const total = add(state(name, param.shape, grads[i]!.dtype), grads[i]!)
    updates[name] = where(apply!, 0, total)
    initialState[name] = zerosHost(grads[i]!.dtype, param.shape)
    return total
  })
  const averaged = accumulating ? summed.map((g) => div(g, options.gradientAccumulationSteps)) : summed
  const norm = sqrt(averaged.map((g): Tensor => sum(square(g))).reduce((a, b) => add(a, b)))
  const clipCoefficient =
    options.maxGradNorm > 0 ? minimum(div(options.maxGradNorm, add(norm, 1e-6)), 1) : undefined
  const clipped = clipCoefficient ? averaged.map((g) => mul(g, clipCoefficient)) : averaged

  // The optimizer sees a half-held parameter as an f32 state of its name; `heldUpdates` reads it from the half one.
  let at = 0
  const groups = trainableGroups.map((group) => ({
    lr: group.lr,
    trainables: group.trainables.map((param) => ({
      param: isHalfHeld(param.dtype) ? state(param.attrs.name, param.shape, "f32") : param,
      grad: clipped[at++]!,
    })),
  }))
  const optimized = spec.optimizer.update(groups, input(stepInputNames.step, []))
  const paramGates = new Map<string, Tensor>()
  const groupGates = new Map<number, Tensor>()
  trainableGroups.forEach((group, i) => {
    if (!group.active) return
    const on = greater(group.active, 0.5)
    groupGates.set(i, on)
    for (const param of group.trainables) paramGates.set(param.attrs.name, on)
  })
  // A group's optimizer states (AdamW's packed moments) are held with the group. Prodigy's and D-Adaptation's d
  // live in group 0 but sum over every group, and torch keeps updating them while a group is frozen:
  // fineTuneGroups gates only the text encoder's group, never group 0.
  const gateOf = (name: string) => {
    const owner = stateOwner(name)
    if (owner === undefined) return paramGates.get(name)
    return "group" in owner ? groupGates.get(owner.group) : paramGates.get(owner.param)
  }
  const gatedUpdates: Record<string, Tensor> = {}
  for (const [name, value] of Object.entries(optimized)) {
    const kept = () => state(name, value.shape, value.dtype)
    const gate = gateOf(name)
    const gated = gate ? where(gate, value, kept()) : value
    gatedUpdates[name] = apply ? where(apply, gated, kept()) : gated
  }
  const heldParams = new Map(halfParams.map((p) => [p.attrs.name, p.dtype]))
  Object.assign(
    updates,
    halfParams.length === 0
      ? gatedUpdates
      : heldUpdates(gatedUpdates, (name) => heldParams.get(name) ?? spec.optimizerStates?.[name]?.dtype),
  )
  return {
    graph: { outputs: { loss, loss_per_sample: perSample, grad_norm: norm }, updates },
    initialState,
  }
}
