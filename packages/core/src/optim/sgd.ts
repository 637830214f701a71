import { add, equal, mul, sub, where } from "../ops/elementwise.js"
import { state } from "../ops/sources.js"
import { zerosHost } from "../tensor/hostTensor.js"
import type { Tensor } from "../tensor/tensor.js"
import { OptimizerConfigError } from "./errors.js"
import type { Optimizer } from "./optimizer.js"
import { paramStateName } from "./optimizer.js"
import type { OptimizerArgs } from "./optimizerArgs.js"

export interface SgdOptions {
  readonly momentum?: number
  readonly dampening?: number
  readonly weightDecay?: number
  readonly nesterov?: boolean
}

/**
 * torch.optim.SGD: d = g + wd·p; with momentum, buf ← d on the first step and μ·buf + (1 − dampening)·d after,
 * d = d + μ·buf (nesterov) or buf; p ← p − lr·d. kohya's "SGDNesterov" is this with nesterov and momentum 0.9.
 */
export const sgd = (
  { momentum = 0, dampening = 0, weightDecay = 0, nesterov = false }: SgdOptions = {},
  type = "SGD",
): Optimizer => ({
  type,
  lrRole: "step-size",
  update: (groups, step) => {
    const updates: Record<string, Tensor> = {}
    // torch creates the buffer as a copy of the first direction, so step 1 does not dampen.
    const first = equal(step, 1)
    for (const { trainables, lr } of groups) {
      for (const { param, grad } of trainables) {
        let direction = weightDecay === 0 ? grad : add(grad, mul(param, weightDecay))
        if (momentum !== 0) {
          const name = paramStateName(param.attrs.name, "momentum_buffer")
          const buffer = state(name, param.shape, param.dtype)
          const next = where(first, direction, add(mul(buffer, momentum), mul(direction, 1 - dampening)))
          updates[name] = next
          direction = nesterov ? add(direction, mul(next, momentum)) : next
        }
        updates[param.attrs.name] = sub(param, mul(direction, lr))
      }
    }
    return updates
  },
  initialState: (groups) =>
    momentum === 0
      ? {}
      : Object.fromEntries(
          groups.flat().map((p) => [paramStateName(p.name, "momentum_buffer"), zerosHost(p.dtype, p.shape)]),
        ),
})

/** SGD (or kohya's SGDNesterov, whose momentum defaults to 0.9) from optimizer_args. */
export const sgdFromArgs = (args: OptimizerArgs, nesterov: boolean): Optimizer => {
  const momentum = args.number("momentum", nesterov ? 0.9 : 0, { min: 0 })
  const dampening = args.number("dampening", 0)
  const weightDecay = args.number("weight_decay", 0, { min: 0 })
  // kohya passes nesterov=True itself for SGDNesterov, so there it is not an argument.
  const nesterovArg = nesterov || args.boolean("nesterov", false)
  args.done()
  if (nesterovArg && (momentum <= 0 || dampening !== 0))
    throw new OptimizerConfigError({
      optimizer: args.optimizer,
      argument: "momentum",
      detail: "Nesterov momentum needs momentum > 0 and dampening 0",
    })
  return sgd({ momentum, dampening, weightDecay, nesterov: nesterovArg }, nesterov ? "SGDNesterov" : "SGD")
}
