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
import { abs, hostFull } from "./stepMath.js"

export interface DAdaptAdamPreprintOptions {
  readonly beta1?: number
  readonly beta2?: number
  readonly eps?: number
  readonly weightDecay?: number
  readonly decouple?: boolean
  readonly d0?: number
  readonly growthRate?: number
}

/**
 * DAdaptAdamPreprint (kohya's "DAdaptation"; dadaptation 3.2 `experimental/dadapt_adam_preprint.py`): the paper's
 * first Adam variant. m carries dlr; with denom = √v + eps after the update, d̂ = (Σ s²/denom / (1 − β2) − gsq_weighted)
 * / Σ|s| where gsq_weighted ← β2·gsq_weighted + Σ g²/denom · dlr²·(1 − β2); d ← max(d, min(d̂, d·growth_rate)).
 * States d, gsq_weighted and k live in `optimizer.group0.*`; a step with Σ|s| = 0 updates the moments only.
 */
export const dadaptAdamPreprint = (options: DAdaptAdamPreprintOptions = {}): Optimizer => {
  const beta1 = options.beta1 ?? 0.9
  const beta2 = options.beta2 ?? 0.999
  const eps = options.eps ?? 1e-8
  const weightDecay = options.weightDecay ?? 0
  const decouple = options.decouple ?? false
  const d0 = options.d0 ?? 1e-6
  const growthRate = options.growthRate ?? Number.POSITIVE_INFINITY
  const names = (param: string) => ({
    s: paramStateName(param, "s"),
    m: paramStateName(param, "exp_avg"),
    v: paramStateName(param, "exp_avg_sq"),
  })
  return {
    type: "DAdaptAdamPreprint",
    lrRole: "multiplier",
    update: (groups) => {
      const scalar = (name: string) => state(groupStateName(0, name), [], "f32")
      const [d, gsqWeighted, k] = [scalar("d"), scalar("gsq_weighted"), scalar("k")]
      const lr = groups.map((g) => g.lr).reduce((a, b) => maximum(a, b))
      const dlr = mul(d, lr)
      const updates: Record<string, Tensor> = {}
      const moments: Array<{ param: Tensor<"state">; m: Tensor; v: Tensor; on: Tensor }> = []
      let gSq: Tensor = full(0)
      let sksqWeighted: Tensor = full(0)
      let skL1: Tensor = full(0)
      for (const group of groups) {
        const on = greater(group.lr, 0)
        for (const { param, grad: rawGrad } of group.trainables) {
          const n = names(param.attrs.name)
          const grad = weightDecay !== 0 && !decouple ? add(rawGrad, mul(param, weightDecay)) : rawGrad
          const [mState, vState, sState] = [n.m, n.v, n.s].map((name) =>
            state(name, param.shape, param.dtype),
          ) as [Tensor, Tensor, Tensor]
          const m = where(on, add(mul(mState, beta1), mul(grad, mul(dlr, 1 - beta1))), mState)
          const v = where(on, add(mul(vState, beta2), mul(square(grad), 1 - beta2)), vState)
          const denominator = add(sqrt(v), eps)
          const s = where(on, add(mul(sState, beta2), mul(grad, mul(dlr, 1 - beta2))), sState)
          gSq = add(gSq, where(on, sum(div(square(grad), denominator)), 0))
          sksqWeighted = add(sksqWeighted, where(on, sum(div(square(s), denominator)), 0))
          skL1 = add(skL1, where(on, sum(abs(s)), 0))
          updates[n.m] = m
          updates[n.v] = v
          updates[n.s] = s
          moments.push({ param, m, v, on })
        }
      }
      const skip = equal(skL1, 0)
      const gsqNext = add(mul(gsqWeighted, beta2), mul(mul(gSq, square(dlr)), 1 - beta2))
      const dHat = div(sub(div(sksqWeighted, 1 - beta2), gsqNext), where(skip, 1, skL1))
      const dNext = maximum(d, Number.isFinite(growthRate) ? minimum(dHat, mul(d, growthRate)) : dHat)
      updates[groupStateName(0, "d")] = where(skip, d, dNext)
      updates[groupStateName(0, "gsq_weighted")] = where(skip, gsqWeighted, gsqNext)
      updates[groupStateName(0, "k")] = where(skip, k, add(k, 1))
      for (const { param, m, v, on } of moments) {
        // The preprint decays only groups whose lr is not 0.
        const decayed =
          weightDecay !== 0 && decouple
            ? where(on, sub(param, mul(param, mul(dlr, weightDecay))), param)
            : param
        updates[param.attrs.name] = where(skip, param, sub(decayed, div(m, add(sqrt(v), eps))))
      }
      return updates
    },
    initialState: (groups) => {
      const init: Record<string, HostTensor> = {
        [groupStateName(0, "d")]: hostFull(d0),
        [groupStateName(0, "gsq_weighted")]: hostFull(0),
        [groupStateName(0, "k")]: hostFull(0),
      }
      for (const { name, shape, dtype } of groups.flat())
        for (const stateName of Object.values(names(name))) init[stateName] = zerosHost(dtype, shape)
      return init
    },
  }
}

/** DAdaptAdamPreprint from kohya's optimizer_args, with dadaptation 3.2's defaults (log_every accepted, unused). */
export const dadaptAdamPreprintFromArgs = (args: OptimizerArgs): Optimizer => {
  const [beta1, beta2] = args.pair("betas", [0.9, 0.999])
  const options: DAdaptAdamPreprintOptions = {
    beta1,
    beta2,
    eps: args.number("eps", 1e-8, { min: Number.MIN_VALUE }),
    weightDecay: args.number("weight_decay", 0, { min: 0 }),
    decouple: args.boolean("decouple", false),
    d0: args.number("d0", 1e-6, { min: Number.MIN_VALUE }),
    growthRate: args.number("growth_rate", Number.POSITIVE_INFINITY, { min: 1 }),
  }
  args.number("log_every", 0)
  args.done()
  return dadaptAdamPreprint(options)
}
