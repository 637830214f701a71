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
  /** The most elements a packed moment vector holds (`momentPacks`); `packElementsDefault` when absent. */
  readonly packElements?: number
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

/** The most elements one packed moment vector holds by default: 64 MiB in f32. */
export const packElementsDefault = 2 ** 24

/**
 * Which parameters share a packed moment vector, as index ranges `[from, to)` of the group's parameters in
 * order: a new vector starts where the next parameter would take one past `limit` elements (a parameter larger
 * than that has one of its own). The bound keeps what a step holds besides the moments themselves (the packed
 * gradient, the step) to a few vectors of `limit` elements, as a per-tensor update holds a few of the largest
 * tensor: one vector for a whole fine-tuned UNet would cost gigabytes more.
 */
export const momentPacks = (
  sizes: ReadonlyArray<number>,
  limit = packElementsDefault,
): Array<{ readonly from: number; readonly to: number }> => {
  const packs: Array<{ from: number; to: number }> = []
  let filled = 0
  sizes.forEach((size, i) => {
    const last = packs.at(-1)
    if (last && filled + size <= limit) {
      last.to = i + 1
      filled += size
    } else {
      packs.push({ from: i, to: i + 1 })
      filled = size
    }
  })
  return packs
}

/**
 * State names of a group's moments, torch's `exp_avg` / `exp_avg_sq` of its parameters packed in vectors
 * (`momentPacks`): `optimizer.group<i>.exp_avg` for the first, `optimizer.group<i>.exp_avg.<pack>` after it.
 */
export const momentNames = (group: number, pack = 0): { readonly m: string; readonly v: string } => {
  const suffix = pack === 0 ? "" : `.${pack}`
  return { m: groupStateName(group, `exp_avg${suffix}`), v: groupStateName(group, `exp_avg_sq${suffix}`) }
}

/** The dtype moments are packed in: their parameters' one dtype, f32 where they differ. */
export const packedDType = (dtypes: ReadonlyArray<DType>): DType =>
  dtypes.length > 0 && dtypes.every((d) => d === dtypes[0]) ? dtypes[0]! : "f32"

/** One packed moment pair of a group: which parameters it holds, their sizes, its dtype and its state names. */
interface MomentPack {
  readonly from: number
  readonly to: number
  readonly sizes: ReadonlyArray<number>
  readonly total: number
  readonly dtype: DType
  readonly names: { readonly m: string; readonly v: string }
}

/** Group `group`'s packs over its parameters in order, as `adamW` holds them. */
const packLayout = (
  params: ReadonlyArray<{ readonly shape: ReadonlyArray<number>; readonly dtype: DType }>,
  group: number,
  limit: number | undefined,
): Array<MomentPack> => {
  const sizes = params.map((p) => sizeOf(p.shape))
  return momentPacks(sizes, limit).map(({ from, to }, pack) => {
    const packSizes = sizes.slice(from, to)
    return {
      from,
      to,
      sizes: packSizes,
      total: packSizes.reduce((a, b) => a + b, 0),
      dtype: packedDType(params.slice(from, to).map((p) => p.dtype)),
      names: momentNames(group, pack),
    }
  })
}

// ONNX Runtime plans a session in time that grows with the square of one value's inputs or readers: one
// Concat of an SD1.5 LoRA's 528 gradients and 528 Slices of its packed step took its cached compile from
// 2.2 s to 3.7 s. Joining and splitting in a tree of at most `treeFan` parts a level keeps every fan small;
// the values are the same bits.
const treeFan = 16

/** `parts` joined along axis 0 through concats of at most `treeFan` inputs. */
const concatTree = (parts: ReadonlyArray<Tensor>): Tensor => {
  if (parts.length <= treeFan) return concat(parts, 0)
  const joined: Array<Tensor> = []
  for (let i = 0; i < parts.length; i += treeFan) joined.push(concat(parts.slice(i, i + treeFan), 0))
  return concatTree(joined)
}

/** `vector` cut into consecutive pieces of `sizes`, each cut from a slice holding at most `treeFan` pieces. */
const sliceTree = (vector: Tensor, sizes: ReadonlyArray<number>): Array<Tensor> => {
  if (sizes.length <= treeFan) {
    let at = 0
    return sizes.map((size) => {
      const piece = slice(vector, [at], [at + size])
      at += size
      return piece
    })
  }
  const span = Math.ceil(sizes.length / treeFan)
  const groups: Array<ReadonlyArray<number>> = []
  for (let i = 0; i < sizes.length; i += span) groups.push(sizes.slice(i, i + span))
  const totals = groups.map((group) => group.reduce((a, b) => a + b, 0))
  return sliceTree(vector, totals).flatMap((part, i) => sliceTree(part, groups[i]!))
}

/**
 * AdamW as graph updates, the same arithmetic as `torch.optim.AdamW` (kohya's default optimizer): returns
 * the new value of every parameter and of the group's moment states, keyed by state name.
 *
 * The moments are packed (`momentPacks`, `momentNames(group, pack)`): the parameters flattened and concatenated
 * in order. The moments and the Adam step are computed once over each pack's concatenated gradients and each
 * parameter takes its slice of the step, element by element the arithmetic of a per-tensor AdamW with a few
 * nodes per parameter instead of fourteen and no moment inputs or outputs per parameter (ADR 0013).
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
  const updates: Record<string, Tensor> = {}
  const layout = packLayout(
    trainables.map(({ param }) => param),
    group,
    options.packElements,
  )
  for (const { from, to, sizes, total, dtype, names } of layout) {
    const members = trainables.slice(from, to)
    const m = state(names.m, [total], dtype)
    const v = state(names.v, [total], dtype)
    const grad = concatTree(members.map(({ grad }, i) => reshape(cast(grad, dtype), [sizes[i]!])))
    const m1 = add(mul(m, beta1), mul(grad, 1 - beta1))
    const v1 = add(mul(v, beta2), mul(square(grad), 1 - beta2))
    const denominator = add(div(sqrt(v1), rootCorrection2), eps)
    const stepped = mul(stepSize, div(m1, denominator))
    updates[names.m] = m1
    updates[names.v] = v1
    const steps = sliceTree(stepped, sizes)
    members.forEach(({ param }, i) => {
      const own = cast(reshape(steps[i]!, param.shape), param.dtype)
      updates[param.attrs.name] = sub(mul(param, decay), own)
    })
  }
  return updates
}

/** One zero-filled moment pair per pack of each group, as `adamW` reads them. */
const initialMoments = (
  groups: ReadonlyArray<ReadonlyArray<ParamSpec>>,
  limit: number | undefined,
): Record<string, HostTensor> =>
  Object.fromEntries(
    groups.flatMap((params, group) =>
      packLayout(params, group, limit).flatMap(({ total, dtype, names }) => [
        [names.m, zerosHost(dtype, [total])],
        [names.v, zerosHost(dtype, [total])],
      ]),
    ),
  )

/**
 * States saved before the moments were packed (`optimizer.<param>.exp_avg[_sq]`, one per parameter) as the
 * packed vectors of their groups; a packed state already there wins. Throws when a group has some of its
 * parameters' moments but not all, or one of another size: resuming those would restart the moments at zero.
 */
const packSavedMoments = (
  saved: Readonly<Record<string, HostTensor>>,
  groups: ReadonlyArray<ReadonlyArray<ParamSpec>>,
  limit: number | undefined,
): Record<string, HostTensor> => {
  const converted = { ...saved }
  groups.forEach((params, group) => {
    const sizes = params.map((p) => sizeOf(p.shape))
    const layout = packLayout(params, group, limit)
    for (const kind of ["exp_avg", "exp_avg_sq"] as const) {
      const names = params.map((p) => paramStateName(p.name, kind))
      const found = names.filter((name) => saved[name] !== undefined)
      if (found.length === 0) continue
      if (found.length < names.length)
        throw new RangeError(
          `the saved state has AdamW's ${kind} for ${found.length} of the ${names.length} parameters of group ${group}`,
        )
      names.forEach((name, i) => {
        if (saved[name]!.data.length !== sizes[i])
          throw new RangeError(
            `the saved ${name} has ${saved[name]!.data.length} values, the parameter ${sizes[i]}`,
          )
      })
      for (const { from, to, total, names: packNames } of layout) {
        const packed = packNames[kind === "exp_avg" ? "m" : "v"]
        if (saved[packed] !== undefined) continue
        const parts = names.slice(from, to).map((name) => saved[name]!)
        const dtype = packedDType(parts.map((part) => part.dtype))
        const vector = zerosHost(dtype, [total])
        let at = 0
        for (const part of parts) {
          const data = castHostFloat(part, dtype).data
          ;(vector.data as Float32Array | Uint16Array).set(data as Float32Array | Uint16Array, at)
          at += data.length
        }
        converted[packed] = vector
      }
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
  initialState: (groups) => initialMoments(groups, options.packElements),
  convertSavedState: (saved, groups) => packSavedMoments(saved, groups, options.packElements),
})

/** AdamW from kohya's optimizer_args: betas (0.9, 0.999), eps 1e-8, weight_decay 0.01 (torch's defaults). */
export const adamWFromArgs = (args: OptimizerArgs): Optimizer => {
  const [beta1, beta2] = args.pair("betas", [0.9, 0.999])
  const eps = args.number("eps", 1e-8, { min: 0 })
  const weightDecay = args.number("weight_decay", 0.01, { min: 0 })
  args.done()
  return adamWOptimizer({ beta1, beta2, eps, weightDecay })
}
