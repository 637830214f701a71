import {
  add,
  div,
  equal,
  greater,
  maximum,
  minimum,
  mul,
  sqrt,
  square,
  sub,
  where,
} from "../ops/elementwise.js"
import { pad, reshape, slice } from "../ops/movement.js"
import { sum } from "../ops/reduce.js"
import { full, state } from "../ops/sources.js"
import { type HostTensor, zerosHost } from "../tensor/hostTensor.js"
import { type Shape, sizeOf } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"
import type { Optimizer } from "./optimizer.js"
import { groupStateName, paramStateName } from "./optimizer.js"
import type { OptimizerArgs } from "./optimizerArgs.js"
import { abs, hostFull, powStep } from "./stepMath.js"

export interface ProdigyOptions {
  readonly beta1?: number
  readonly beta2?: number
  /** β3 of the d estimate's running sums; `null` means √β2. */
  readonly beta3?: number | null
  readonly eps?: number
  readonly weightDecay?: number
  readonly decouple?: boolean
  readonly useBiasCorrection?: boolean
  readonly safeguardWarmup?: boolean
  readonly d0?: number
  readonly dCoef?: number
  readonly growthRate?: number
  readonly sliceP?: number
}

const slicedShape = (shape: Shape, sliceP: number): Shape =>
  sliceP === 1 ? shape : [Math.ceil(sizeOf(shape) / sliceP)]

/** `x.flatten()[::slice_p]`: every slice_p-th element (x itself, unflattened, when slice_p is 1). */
const sliced = (x: Tensor, sliceP: number): Tensor => {
  if (sliceP === 1) return x
  const n = sizeOf(x.shape)
  const rows = Math.ceil(n / sliceP)
  const padded = pad(reshape(x, [n]), [0], [rows * sliceP - n])
  return reshape(slice(reshape(padded, [rows, sliceP]), [0, 0], [rows, 1]), [rows])
}

/**
 * Prodigy 1.1.2 (konstmish/prodigy `prodigyopt/prodigy.py`; Mishchenko & Defazio, arXiv:2306.06101): Adam whose
 * step size d·lr is estimated from the run itself. The estimate sums over every parameter of every group, so
 * it is computed in the graph; d, d_max, d_numerator and k live in `optimizer.group0.*`. A step on which
 * Σ|s| is 0 updates the moments and leaves parameters and d alone, as the reference returns early. p0 (the
 * initial weights) is captured in the graph at step 1, so its initial state is zeros.
 */
export const prodigy = (options: ProdigyOptions = {}): Optimizer => {
  const beta1 = options.beta1 ?? 0.9
  const beta2 = options.beta2 ?? 0.999
  const beta3 = options.beta3 ?? Math.sqrt(beta2)
  const eps = options.eps ?? 1e-8
  const weightDecay = options.weightDecay ?? 0
  const decouple = options.decouple ?? true
  const d0 = options.d0 ?? 1e-6
  const dCoef = options.dCoef ?? 1
  const growthRate = options.growthRate ?? Number.POSITIVE_INFINITY
  const sliceP = options.sliceP ?? 1
  const names = (param: string) => ({
    s: paramStateName(param, "s"),
    p0: paramStateName(param, "p0"),
    m: paramStateName(param, "exp_avg"),
    v: paramStateName(param, "exp_avg_sq"),
  })
  return {
    type: "Prodigy",
    lrRole: "multiplier",
    update: (groups, step) => {
      const scalar = (name: string) => state(groupStateName(0, name), [], "f32")
      const [d, dMax, dNumerator, k] = [scalar("d"), scalar("d_max"), scalar("d_numerator"), scalar("k")]
      const lr = groups.map((g) => g.lr).reduce((a, b) => maximum(a, b))
      const dlr = options.useBiasCorrection
        ? mul(mul(d, lr), div(sqrt(sub(1, powStep(beta2, add(k, 1)))), sub(1, powStep(beta1, add(k, 1)))))
        : mul(d, lr)
      const dRatio = div(d, d0)
      const sScale = options.safeguardWarmup ? mul(dRatio, d) : mul(dRatio, dlr)
      const firstStep = equal(step, 1)
      const updates: Record<string, Tensor> = {}
      const moments: Array<{ param: Tensor<"state">; grad: Tensor; m?: Tensor; v: Tensor }> = []
      let deltaNumerator: Tensor = full(0)
      let dDenom: Tensor = full(0)
      for (const group of groups) {
        const on = greater(group.lr, 0)
        for (const { param, grad: rawGrad } of group.trainables) {
          const n = names(param.attrs.name)
          const grad = weightDecay !== 0 && !decouple ? add(rawGrad, mul(param, weightDecay)) : rawGrad
          const shape = slicedShape(param.shape, sliceP)
          const p0 = where(firstStep, sliced(param, sliceP), state(n.p0, shape, param.dtype))
          const gSliced = sliced(grad, sliceP)
          const dot = sum(mul(gSliced, sub(p0, sliced(param, sliceP))))
          deltaNumerator = add(deltaNumerator, where(on, mul(mul(dRatio, dlr), dot), 0))
          const mState = state(n.m, param.shape, param.dtype)
          const vState = state(n.v, param.shape, param.dtype)
          const sState = state(n.s, shape, param.dtype)
          const m =
            beta1 > 0 ? where(on, add(mul(mState, beta1), mul(grad, mul(d, 1 - beta1))), mState) : undefined
          const v = where(on, add(mul(vState, beta2), mul(square(grad), mul(square(d), 1 - beta2))), vState)
          const s = where(on, add(mul(sState, beta3), mul(gSliced, sScale)), sState)
          dDenom = add(dDenom, where(on, sum(abs(s)), 0))
          updates[n.p0] = p0
          updates[n.v] = v
          updates[n.s] = s
          if (m !== undefined) updates[n.m] = m
          moments.push({ param, grad, v, ...(m === undefined ? {} : { m }) })
        }
      }
      const skip = equal(dDenom, 0)
      const numerator = add(mul(dNumerator, beta3), deltaNumerator)
      const dHat = div(mul(numerator, dCoef), where(skip, 1, dDenom))
      const dFirst = where(equal(d, d0), maximum(d, dHat), d)
      const dMaxNext = maximum(dMax, dHat)
      const dNext = Number.isFinite(growthRate) ? minimum(dMaxNext, mul(dFirst, growthRate)) : dMaxNext
      updates[groupStateName(0, "d")] = where(skip, d, dNext)
      updates[groupStateName(0, "d_max")] = where(skip, dMax, dMaxNext)
      updates[groupStateName(0, "d_numerator")] = where(skip, dNumerator, numerator)
      updates[groupStateName(0, "k")] = where(skip, k, add(k, 1))
      for (const { param, grad, m, v } of moments) {
        const denominator = add(sqrt(v), mul(dNext, eps))
        const decayed = weightDecay !== 0 && decouple ? sub(param, mul(param, mul(dlr, weightDecay))) : param
        const stepped =
          m !== undefined
            ? sub(decayed, mul(div(m, denominator), dlr))
            : sub(decayed, mul(div(grad, denominator), mul(dlr, dNext)))
        updates[param.attrs.name] = where(skip, param, stepped)
      }
      return updates
    },
    initialState: (groups) => {
      const init: Record<string, HostTensor> = {
        [groupStateName(0, "d")]: hostFull(d0),
        [groupStateName(0, "d_max")]: hostFull(d0),
        [groupStateName(0, "d_numerator")]: hostFull(0),
        [groupStateName(0, "k")]: hostFull(0),
      }
      for (const { name, shape, dtype } of groups.flat()) {
        const n = names(name)
        init[n.s] = zerosHost(dtype, slicedShape(shape, sliceP))
        init[n.p0] = zerosHost(dtype, slicedShape(shape, sliceP))
        if (beta1 > 0) init[n.m] = zerosHost(dtype, shape)
        init[n.v] = zerosHost(dtype, shape)
      }
      return init
    },
  }
}

/** Prodigy from kohya's optimizer_args, with prodigyopt 1.1.2's defaults. */
export const prodigyFromArgs = (args: OptimizerArgs): Optimizer => {
  const [beta1, beta2] = args.pair("betas", [0.9, 0.999])
  const options: ProdigyOptions = {
    beta1,
    beta2,
    beta3: args.numberOrNone("beta3", null),
    eps: args.number("eps", 1e-8, { min: 0 }),
    weightDecay: args.number("weight_decay", 0, { min: 0 }),
    decouple: args.boolean("decouple", true),
    useBiasCorrection: args.boolean("use_bias_correction", false),
    safeguardWarmup: args.boolean("safeguard_warmup", false),
    d0: args.number("d0", 1e-6, { min: Number.MIN_VALUE }),
    dCoef: args.number("d_coef", 1),
    growthRate: args.number("growth_rate", Number.POSITIVE_INFINITY, { min: 1 }),
    sliceP: args.number("slice_p", 1, { min: 1, integer: true }),
  }
  args.done()
  return prodigy(options)
}
