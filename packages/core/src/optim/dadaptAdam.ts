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
import { sum } from "../ops/reduce.js"
import { full, state } from "../ops/sources.js"
import { type HostTensor, zerosHost } from "../tensor/hostTensor.js"
import type { Tensor } from "../tensor/tensor.js"
import type { Optimizer } from "./optimizer.js"
import { groupStateName, paramStateName } from "./optimizer.js"
import type { OptimizerArgs } from "./optimizerArgs.js"
import { abs, hostFull, powStep } from "./stepMath.js"

export interface DAdaptAdamOptions {
  readonly beta1?: number
  readonly beta2?: number
  readonly eps?: number
  readonly weightDecay?: number
  readonly decouple?: boolean
  readonly useBiasCorrection?: boolean
  readonly d0?: number
  readonly growthRate?: number
}

/**
 * DAdaptAdam from facebookresearch/dadaptation 3.2 (`dadaptation/dadapt_adam.py`; Defazio & Mishchenko,
 * arXiv:2301.07733), layer_scale 1: the numerator Σ dlr·⟨g, s/(√v + eps)⟩ uses s and v from before the step, m
 * carries dlr, and d ← max(d, min(d̂, d·growth_rate)) with d̂ = numerator_weighted/((1 − √β2)·Σ|s|). Sums run over
 * every group in the graph; d, numerator_weighted and k live in `optimizer.group0.*`. A step with Σ|s| = 0
 * updates the moments only, as the reference returns early.
 */
export const dadaptAdam = (options: DAdaptAdamOptions = {}): Optimizer => {
  const beta1 = options.beta1 ?? 0.9
  const beta2 = options.beta2 ?? 0.999
  const eps = options.eps ?? 1e-8
  const weightDecay = options.weightDecay ?? 0
  const decouple = options.decouple ?? false
  const d0 = options.d0 ?? 1e-6
  const growthRate = options.growthRate ?? Number.POSITIVE_INFINITY
  const sqrtBeta2 = Math.sqrt(beta2)
  const names = (param: string) => ({
    s: paramStateName(param, "s"),
    m: paramStateName(param, "exp_avg"),
    v: paramStateName(param, "exp_avg_sq"),
  })
  return {
    type: "DAdaptAdam",
    lrRole: "multiplier",
    update: (groups) => {
      const scalar = (name: string) => state(groupStateName(0, name), [], "f32")
      const [d, weighted, k] = [scalar("d"), scalar("numerator_weighted"), scalar("k")]
      const lr = groups.map((g) => g.lr).reduce((a, b) => maximum(a, b))
      const dlr = options.useBiasCorrection
        ? mul(mul(d, lr), div(sqrt(sub(1, powStep(beta2, add(k, 1)))), sub(1, powStep(beta1, add(k, 1)))))
        : mul(d, lr)
      const updates: Record<string, Tensor> = {}
      const moments: Array<{ param: Tensor<"state">; m: Tensor; v: Tensor }> = []
      let numerator: Tensor = full(0)
      let skL1: Tensor = full(0)
      for (const group of groups) {
        const on = greater(group.lr, 0)
        for (const { param, grad: rawGrad } of group.trainables) {
          const n = names(param.attrs.name)
          const grad = weightDecay !== 0 && !decouple ? add(rawGrad, mul(param, weightDecay)) : rawGrad
          const [mState, vState, sState] = [n.m, n.v, n.s].map((name) =>
            state(name, param.shape, param.dtype),
          ) as [Tensor, Tensor, Tensor]
          const dot = sum(mul(grad, div(sState, add(sqrt(vState), eps))))
          numerator = add(numerator, where(on, mul(dlr, dot), 0))
          const m = where(on, add(mul(mState, beta1), mul(grad, mul(dlr, 1 - beta1))), mState)
          const v = where(on, add(mul(vState, beta2), mul(square(grad), 1 - beta2)), vState)
          const s = where(on, add(mul(sState, sqrtBeta2), mul(grad, mul(dlr, 1 - sqrtBeta2))), sState)
          skL1 = add(skL1, where(on, sum(abs(s)), 0))
          updates[n.m] = m
          updates[n.v] = v
          updates[n.s] = s
          moments.push({ param, m, v })
        }
      }
      const skip = equal(skL1, 0)
      const weightedNext = add(mul(weighted, sqrtBeta2), mul(numerator, 1 - sqrtBeta2))
      const dHat = div(weightedNext, mul(where(skip, 1, skL1), 1 - sqrtBeta2))
      const dNext = maximum(d, Number.isFinite(growthRate) ? minimum(dHat, mul(d, growthRate)) : dHat)
      updates[groupStateName(0, "d")] = where(skip, d, dNext)
      updates[groupStateName(0, "numerator_weighted")] = where(skip, weighted, weightedNext)
      updates[groupStateName(0, "k")] = where(skip, k, add(k, 1))
      for (const { param, m, v } of moments) {
        const decayed = weightDecay !== 0 && decouple ? sub(param, mul(param, mul(dlr, weightDecay))) : param
        updates[param.attrs.name] = where(skip, param, sub(decayed, div(m, add(sqrt(v), eps))))
      }
      return updates
    },
    initialState: (groups) => {
      const init: Record<string, HostTensor> = {
        [groupStateName(0, "d")]: hostFull(d0),
        [groupStateName(0, "numerator_weighted")]: hostFull(0),
        [groupStateName(0, "k")]: hostFull(0),
      }
      for (const { name, shape, dtype } of groups.flat())
        for (const stateName of Object.values(names(name))) init[stateName] = zerosHost(dtype, shape)
      return init
    },
  }
}

/** DAdaptAdam from kohya's optimizer_args, with dadaptation 3.2's defaults (log_every is accepted and unused). */
export const dadaptAdamFromArgs = (args: OptimizerArgs): Optimizer => {
  const [beta1, beta2] = args.pair("betas", [0.9, 0.999])
  const options: DAdaptAdamOptions = {
    beta1,
    beta2,
    eps: args.number("eps", 1e-8, { min: Number.MIN_VALUE }),
    weightDecay: args.number("weight_decay", 0, { min: 0 }),
    decouple: args.boolean("decouple", false),
    useBiasCorrection: args.boolean("use_bias_correction", false),
    d0: args.number("d0", 1e-6, { min: Number.MIN_VALUE }),
    growthRate: args.number("growth_rate", Number.POSITIVE_INFINITY, { min: 1 }),
  }
  args.number("log_every", 0)
  args.done()
  return dadaptAdam(options)
}
