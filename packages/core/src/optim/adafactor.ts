import { add, div, exp, log, maximum, minimum, mul, rsqrt, square, sub } from "../ops/elementwise.js"
import { unsqueeze } from "../ops/movement.js"
import { mean } from "../ops/reduce.js"
import { state } from "../ops/sources.js"
import { zerosHost } from "../tensor/hostTensor.js"
import type { Shape } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"
import { OptimizerConfigError } from "./errors.js"
import type { Optimizer } from "./optimizer.js"
import { paramStateName } from "./optimizer.js"
import type { OptimizerArgs } from "./optimizerArgs.js"
import { rms } from "./stepMath.js"

export interface AdafactorOptions {
  readonly eps?: readonly [number, number]
  readonly clipThreshold?: number
  readonly decayRate?: number
  /** First-moment decay; `null` keeps no first moment. */
  readonly beta1?: number | null
  readonly weightDecay?: number
  readonly scaleParameter?: boolean
  /** Step size min(1e-2, 1/√t) (or 1e-6·t with warmupInit) instead of the lr input. */
  readonly relativeStep?: boolean
  readonly warmupInit?: boolean
}

/** Second moments of a rank-2+ parameter are factored over its last two dimensions (row and column means). */
const factoredShapes = (shape: Shape): { readonly row: Shape; readonly col: Shape } | undefined =>
  shape.length >= 2
    ? { row: shape.slice(0, -1), col: [...shape.slice(0, -2), shape[shape.length - 1]!] }
    : undefined

/**
 * Adafactor as transformers' `optimization.Adafactor` steps it (Shazeer & Stern, arXiv:1804.04235), one
 * parameter at a time: ρ = min(1e-2 or 1e-6·t, 1/√t) with relative_step, else the lr input, times
 * max(eps2, RMS(p)) with scale_parameter; β2t = 1 − t^decay_rate; u = g² + eps1 averaged into factored row/column
 * states (rank ≥ 2) or a full one; the update g/√v̂ is clipped to RMS ≤ clip_threshold, scaled by ρ, optionally
 * smoothed by β1, and p ← p − wd·ρ·p − update.
 */
export const adafactor = (options: AdafactorOptions = {}): Optimizer => {
  const [eps1, eps2] = options.eps ?? [1e-30, 1e-3]
  const clipThreshold = options.clipThreshold ?? 1
  const decayRate = options.decayRate ?? -0.8
  const beta1 = options.beta1 ?? null
  const weightDecay = options.weightDecay ?? 0
  const scaleParameter = options.scaleParameter ?? true
  const relativeStep = options.relativeStep ?? true
  const warmupInit = options.warmupInit ?? false
  const stateShapes = (name: string, shape: Shape): Array<[string, Shape]> => {
    const factored = factoredShapes(shape)
    return [
      ...(beta1 === null ? [] : [[paramStateName(name, "exp_avg"), shape] as [string, Shape]]),
      ...(factored
        ? ([
            [paramStateName(name, "exp_avg_sq_row"), factored.row],
            [paramStateName(name, "exp_avg_sq_col"), factored.col],
          ] as Array<[string, Shape]>)
        : [[paramStateName(name, "exp_avg_sq"), shape] as [string, Shape]]),
    ]
  }
  return {
    type: "Adafactor",
    lrRole: relativeStep ? "ignored" : "step-size",
    update: (groups, step) => {
      const updates: Record<string, Tensor> = {}
      const beta2t = sub(1, exp(mul(log(step), decayRate)))
      const relative = minimum(warmupInit ? mul(step, 1e-6) : 1e-2, rsqrt(step))
      for (const { trainables, lr } of groups) {
        for (const { param, grad } of trainables) {
          const name = param.attrs.name
          const rate = relativeStep ? relative : lr
          const lrT = scaleParameter ? mul(maximum(rms(param), eps2), rate) : rate
          const u = add(square(grad), eps1)
          const ema = (s: Tensor, x: Tensor) => add(mul(s, beta2t), mul(x, sub(1, beta2t)))
          let update: Tensor
          if (factoredShapes(param.shape)) {
            const { row: rowShape, col: colShape } = factoredShapes(param.shape)!
            const rowName = paramStateName(name, "exp_avg_sq_row")
            const colName = paramStateName(name, "exp_avg_sq_col")
            const row = ema(state(rowName, rowShape, param.dtype), mean(u, -1))
            const col = ema(state(colName, colShape, param.dtype), mean(u, -2))
            updates[rowName] = row
            updates[colName] = col
            const rowFactor = unsqueeze(rsqrt(div(row, mean(row, -1, true))), -1)
            const colFactor = unsqueeze(rsqrt(col), -2)
            update = mul(mul(rowFactor, colFactor), grad)
          } else {
            const vName = paramStateName(name, "exp_avg_sq")
            const v = ema(state(vName, param.shape, param.dtype), u)
            updates[vName] = v
            update = mul(rsqrt(v), grad)
          }
          update = mul(div(update, maximum(div(rms(update), clipThreshold), 1)), lrT)
          if (beta1 !== null) {
            const mName = paramStateName(name, "exp_avg")
            update = add(mul(state(mName, param.shape, param.dtype), beta1), mul(update, 1 - beta1))
            updates[mName] = update
          }
          const decayed = weightDecay === 0 ? param : sub(param, mul(param, mul(lrT, weightDecay)))
          updates[name] = sub(decayed, update)
        }
      }
      return updates
    },
    initialState: (groups) =>
      Object.fromEntries(
        groups
          .flat()
          .flatMap((p) =>
            stateShapes(p.name, p.shape).map(([name, shape]) => [name, zerosHost(p.dtype, shape)]),
          ),
      ),
  }
}

/**
 * Adafactor from kohya's optimizer_args. kohya turns relative_step on unless told otherwise (and whenever
 * warmup_init is on), and then drops the learning rate: the step size is the optimizer's own.
 */
export const adafactorFromArgs = (args: OptimizerArgs): Optimizer => {
  const eps = args.pair("eps", [1e-30, 1e-3])
  const options: AdafactorOptions = {
    eps,
    clipThreshold: args.number("clip_threshold", 1),
    decayRate: args.number("decay_rate", -0.8),
    beta1: args.numberOrNone("beta1", null),
    weightDecay: args.number("weight_decay", 0, { min: 0 }),
    scaleParameter: args.boolean("scale_parameter", true),
    relativeStep: args.boolean("relative_step", true) || args.boolean("warmup_init", false),
    warmupInit: args.boolean("warmup_init", false),
  }
  args.done()
  if (options.beta1 !== null && options.beta1 !== undefined && (options.beta1 < 0 || options.beta1 >= 1))
    throw new OptimizerConfigError({
      optimizer: args.optimizer,
      argument: "beta1",
      detail: "expected None or a number in [0, 1)",
    })
  return adafactor(options)
}
