import { add, mul, sub } from "../ops/elementwise.js"
import { state } from "../ops/sources.js"
import { zerosHost } from "../tensor/hostTensor.js"
import type { Tensor } from "../tensor/tensor.js"
import type { Optimizer } from "./optimizer.js"
import { paramStateName } from "./optimizer.js"
import type { OptimizerArgs } from "./optimizerArgs.js"
import { sign } from "./stepMath.js"

export interface LionOptions {
  readonly beta1?: number
  readonly beta2?: number
  readonly weightDecay?: number
}

/**
 * Lion as lucidrains' lion-pytorch 0.2.3 steps it (Chen et al., arXiv:2302.06675): p ← p·(1 − lr·wd);
 * p ← p − lr·sign(β1·m + (1−β1)·g); m ← β2·m + (1−β2)·g. Defaults betas (0.9, 0.99), weight_decay 0.
 */
export const lion = ({ beta1 = 0.9, beta2 = 0.99, weightDecay = 0 }: LionOptions = {}): Optimizer => ({
  type: "Lion",
  lrRole: "step-size",
  update: (groups) => {
    const updates: Record<string, Tensor> = {}
    for (const { trainables, lr } of groups) {
      for (const { param, grad } of trainables) {
        const name = paramStateName(param.attrs.name, "exp_avg")
        const m = state(name, param.shape, param.dtype)
        const decayed = weightDecay === 0 ? param : mul(param, sub(1, mul(lr, weightDecay)))
        const direction = sign(add(mul(m, beta1), mul(grad, 1 - beta1)))
        updates[param.attrs.name] = sub(decayed, mul(direction, lr))
        updates[name] = add(mul(m, beta2), mul(grad, 1 - beta2))
      }
    }
    return updates
  },
  initialState: (groups) =>
    Object.fromEntries(
      groups.flat().map((p) => [paramStateName(p.name, "exp_avg"), zerosHost(p.dtype, p.shape)]),
    ),
})

/** Lion from kohya's optimizer_args (betas, weight_decay). */
export const lionFromArgs = (args: OptimizerArgs): Optimizer => {
  const [beta1, beta2] = args.pair("betas", [0.9, 0.99])
  const weightDecay = args.number("weight_decay", 0, { min: 0 })
  args.done()
  return lion({ beta1, beta2, weightDecay })
}
