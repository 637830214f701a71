import { add, div, exp, mul, sqrt, square, sub } from "../ops/elementwise.js"
import { state } from "../ops/sources.js"
import { zerosHost } from "../tensor/hostTensor.js"
import type { Tensor } from "../tensor/tensor.js"
import type { Optimizer } from "./optimizer.js"
import type { OptimizerArgs } from "./optimizerArgs.js"

export interface AdamWOptions {
  readonly beta1?: number
  readonly beta2?: number
  readonly eps?: number
  /** Decoupled weight decay, applied as `p ← p·(1 − lr·wd)` before the Adam step (torch's AdamW). */
  readonly weightDecay?: number
}

/** A trainable parameter: its state tensor and the gradient of the loss with respect to it. */
export interface Trainable {
  readonly param: Tensor<"state">
  readonly grad: Tensor
}

/** The optimizer's per-step scalars, fed as inputs so a schedule changes them without recompiling. */
export interface StepScalars {
  /** Learning rate, f32 scalar. */
  readonly lr: Tensor
  /** 1-based step number, f32 scalar (bias correction). */
  readonly step: Tensor
}

/** State names of a parameter's moments, after torch's `exp_avg` / `exp_avg_sq`. */
export const momentNames = (param: string): { readonly m: string; readonly v: string } => ({
  m: `optimizer.${param}.exp_avg`,
  v: `optimizer.${param}.exp_avg_sq`,
})

/**
 * AdamW as graph updates, the same arithmetic as `torch.optim.AdamW` (kohya's default optimizer): returns
 * the new value of every parameter and of its two moment states, keyed by state name.
 */
export const adamW = (
  trainables: ReadonlyArray<Trainable>,
  { lr, step }: StepScalars,
  options: AdamWOptions = {},
): Record<string, Tensor> => {
  const beta1 = options.beta1 ?? 0.9
  const beta2 = options.beta2 ?? 0.999
  const eps = options.eps ?? 1e-8
  const weightDecay = options.weightDecay ?? 0.01
  const correction1 = sub(1, exp(mul(step, Math.log(beta1))))
  const correction2 = sub(1, exp(mul(step, Math.log(beta2))))
  // The scalars every parameter shares are built once: a graph node per parameter each would be computed
  // hundreds of times (ONNX Runtime runs without CSE, ADR 0011) and lengthen its compile.
  const decay = sub(1, mul(lr, weightDecay))
  const stepSize = div(lr, correction1)
  const rootCorrection2 = sqrt(correction2)
  const updates: Record<string, Tensor> = {}
  for (const { param, grad } of trainables) {
    const names = momentNames(param.attrs.name)
    const m = state(names.m, param.shape, param.dtype)
    const v = state(names.v, param.shape, param.dtype)
    const m1 = add(mul(m, beta1), mul(grad, 1 - beta1))
    const v1 = add(mul(v, beta2), mul(square(grad), 1 - beta2))
    const decayed = mul(param, decay)
    const denominator = add(div(sqrt(v1), rootCorrection2), eps)
    updates[param.attrs.name] = sub(decayed, mul(stepSize, div(m1, denominator)))
    updates[names.m] = m1
    updates[names.v] = v1
  }
  return updates
}

/** torch.optim.AdamW as an `Optimizer` (kohya's default optimizer_type). */
export const adamWOptimizer = (options: AdamWOptions = {}): Optimizer => ({
  type: "AdamW",
  lrRole: "step-size",
  update: (groups, step) =>
    Object.assign({}, ...groups.map((group) => adamW(group.trainables, { lr: group.lr, step }, options))),
  initialState: (params) =>
    Object.fromEntries(
      params.flatMap(({ name, shape, dtype }) => [
        [momentNames(name).m, zerosHost(dtype, shape)],
        [momentNames(name).v, zerosHost(dtype, shape)],
      ]),
    ),
})

/** AdamW from kohya's optimizer_args: betas (0.9, 0.999), eps 1e-8, weight_decay 0.01 (torch's defaults). */
export const adamWFromArgs = (args: OptimizerArgs): Optimizer => {
  const [beta1, beta2] = args.pair("betas", [0.9, 0.999])
  const eps = args.number("eps", 1e-8, { min: 0 })
  const weightDecay = args.number("weight_decay", 0.01, { min: 0 })
  args.done()
  return adamWOptimizer({ beta1, beta2, eps, weightDecay })
}
