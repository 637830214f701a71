import { cast } from "../ops/cast.js"
import { add, div, exp, mul, sqrt, square, sub } from "../ops/elementwise.js"
import { concat, reshape, slice } from "../ops/movement.js"
import { state } from "../ops/sources.js"
import type { DType } from "../tensor/dtype.js"
import { type HostTensor, zerosHost } from "../tensor/hostTensor.js"
import { sizeOf } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"
import { castHostFloat } from "../train/baseWeights.js"
import { groupStateName, type Optimizer, type ParamSpec, paramStateName } from "./optimizer.js"
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

/** State names of group `group`'s moments: torch's `exp_avg` / `exp_avg_sq` of its parameters, packed in one vector. */
export const momentNames = (group: number): { readonly m: string; readonly v: string } => ({
  m: groupStateName(group, "exp_avg"),
  v: groupStateName(group, "exp_avg_sq"),
})

/** The dtype a group's moments are packed in: its parameters' one dtype, f32 where they differ. */
export const packedDType = (dtypes: ReadonlyArray<DType>): DType =>
  dtypes.length > 0 && dtypes.every((d) => d === dtypes[0]) ? dtypes[0]! : "f32"

/**
 * AdamW as graph updates, the same arithmetic as `torch.optim.AdamW` (kohya's default optimizer): returns
 * the new value of every parameter and of the group's two moment states, keyed by state name.
 *
 * The moments of the whole group are one vector each (`momentNames(group)`): the parameters flattened and
 * concatenated in order. The moments and the Adam step are computed once over the concatenated gradients and
 * each parameter takes its slice of the step, element by element the arithmetic of a per-tensor AdamW with a
 * few nodes per parameter instead of fourteen (ONNX Runtime's compile grows with the square of the node count).
 */
export const adamW = (
  trainables: ReadonlyArray<Trainable>,
  { lr, step }: StepScalars,
  options: AdamWOptions = {},
  group = 0,
): Record<string, Tensor> => {
  if (trainables.length === 0) return {}
  const beta1 = options.beta1 ?? 0.9
  const beta2 = options.beta2 ?? 0.999
  const eps = options.eps ?? 1e-8
  const weightDecay = options.weightDecay ?? 0.01
  const correction1 = sub(1, exp(mul(step, Math.log(beta1))))
  const correction2 = sub(1, exp(mul(step, Math.log(beta2))))
  const decay = sub(1, mul(lr, weightDecay))
  const stepSize = div(lr, correction1)
  const rootCorrection2 = sqrt(correction2)
  const dtype = packedDType(trainables.map(({ param }) => param.dtype))
  const sizes = trainables.map(({ param }) => sizeOf(param.shape))
  const total = sizes.reduce((a, b) => a + b, 0)
  const names = momentNames(group)
  const m = state(names.m, [total], dtype)
  const v = state(names.v, [total], dtype)
  const grad = concat(
    trainables.map(({ grad }, i) => reshape(cast(grad, dtype), [sizes[i]!])),
    0,
  )
  const m1 = add(mul(m, beta1), mul(grad, 1 - beta1))
  const v1 = add(mul(v, beta2), mul(square(grad), 1 - beta2))
  const denominator = add(div(sqrt(v1), rootCorrection2), eps)
  const stepped = mul(stepSize, div(m1, denominator))
  const updates: Record<string, Tensor> = { [names.m]: m1, [names.v]: v1 }
  let at = 0
  trainables.forEach(({ param }, i) => {
    const own = cast(reshape(slice(stepped, [at], [at + sizes[i]!]), param.shape), param.dtype)
    updates[param.attrs.name] = sub(mul(param, decay), own)
    at += sizes[i]!
  })
  return updates
}

/**
 * States saved before the moments were packed (`optimizer.<param>.exp_avg[_sq]`, one per parameter) as the
 * packed vectors of their groups; a packed state already there wins. Throws when a group has some of its
 * parameters' moments but not all, or one of another size: resuming those would restart the moments at zero.
 */
const packSavedMoments = (
  saved: Readonly<Record<string, HostTensor>>,
  groups: ReadonlyArray<ReadonlyArray<ParamSpec>>,
): Record<string, HostTensor> => {
  const converted = { ...saved }
  groups.forEach((params, group) => {
    for (const kind of ["exp_avg", "exp_avg_sq"]) {
      const packed = groupStateName(group, kind)
      const names = params.map((p) => paramStateName(p.name, kind))
      const found = names.filter((name) => saved[name] !== undefined)
      if (found.length === 0 || saved[packed] !== undefined) continue
      if (found.length < names.length)
        throw new RangeError(
          `the saved state has AdamW's ${kind} for ${found.length} of the ${names.length} parameters of group ${group}`,
        )
      const parts = names.map((name) => saved[name]!)
      params.forEach((p, i) => {
        if (parts[i]!.data.length !== sizeOf(p.shape))
          throw new RangeError(
            `the saved ${names[i]} has ${parts[i]!.data.length} values, the parameter ${sizeOf(p.shape)}`,
          )
      })
      const dtype = packedDType(parts.map((part) => part.dtype))
      const vector = zerosHost(dtype, [parts.reduce((n, part) => n + part.data.length, 0)])
      let at = 0
      for (const part of parts) {
        const data = castHostFloat(part, dtype).data
        ;(vector.data as Float32Array | Uint16Array).set(data as Float32Array | Uint16Array, at)
        at += data.length
      }
      converted[packed] = vector
      for (const name of names) delete converted[name]
    }
  })
  return converted
}

/** torch.optim.AdamW as an `Optimizer` (kohya's default optimizer_type). */
export const adamWOptimizer = (options: AdamWOptions = {}): Optimizer => ({
  type: "AdamW",
  lrRole: "step-size",
  update: (groups, step) =>
    Object.assign(
      {},
      ...groups.map((group, i) => adamW(group.trainables, { lr: group.lr, step }, options, i)),
    ),
  initialState: (groups) =>
    Object.fromEntries(
      groups.flatMap((params, i) => {
        if (params.length === 0) return []
        const shape = [params.reduce((n, p) => n + sizeOf(p.shape), 0)]
        const dtype = packedDType(params.map((p) => p.dtype))
        return [
          [momentNames(i).m, zerosHost(dtype, shape)],
          [momentNames(i).v, zerosHost(dtype, shape)],
        ]
      }),
    ),
  convertSavedState: packSavedMoments,
})

/** AdamW from kohya's optimizer_args: betas (0.9, 0.999), eps 1e-8, weight_decay 0.01 (torch's defaults). */
export const adamWFromArgs = (args: OptimizerArgs): Optimizer => {
  const [beta1, beta2] = args.pair("betas", [0.9, 0.999])
  const eps = args.number("eps", 1e-8, { min: 0 })
  const weightDecay = args.number("weight_decay", 0.01, { min: 0 })
  args.done()
  return adamWOptimizer({ beta1, beta2, eps, weightDecay })
}
