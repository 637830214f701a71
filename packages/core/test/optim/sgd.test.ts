import { describe, it } from "vitest"
import { makeOptimizer } from "../../src/optim/makeOptimizer.js"
import { draw, expectClose, runOptimizer } from "./runOptimizer.js"

/** torch.optim.SGD's step for one parameter, written out as its documentation states it. */
const torchSgd = (
  init: Float64Array,
  grads: ReadonlyArray<Float64Array>,
  lr: number,
  {
    momentum,
    dampening,
    weightDecay,
    nesterov,
  }: { momentum: number; dampening: number; weightDecay: number; nesterov: boolean },
) => {
  const p = Float64Array.from(init)
  let buffer: Float64Array | undefined
  const trace: Array<Float64Array> = []
  for (const g of grads) {
    const d = g.map((gi, i) => gi + weightDecay * p[i]!)
    if (momentum !== 0) {
      buffer =
        buffer === undefined
          ? Float64Array.from(d)
          : buffer.map((b, i) => momentum * b + (1 - dampening) * d[i]!)
      for (let i = 0; i < d.length; i++) d[i] = nesterov ? d[i]! + momentum * buffer[i]! : buffer[i]!
    }
    for (let i = 0; i < p.length; i++) p[i] = p[i]! - lr * d[i]!
    trace.push(Float64Array.from(p))
  }
  return trace
}

describe("SGD", () => {
  const init = draw(5, 2)
  const grads = Array.from({ length: 4 }, (_, t) => draw(5, 20 + t))
  const run = (type: string, args: ReadonlyArray<string>) =>
    runOptimizer(
      makeOptimizer(type, args),
      [{ name: "w", shape: [5], init }],
      4,
      (t) => ({ w: grads[t - 1]! }),
      () => [0.05],
    )

  it("SGDNesterov matches torch's SGD with nesterov and kohya's momentum 0.9", () => {
    const history = run("SGDNesterov", [])
    const expected = torchSgd(init, grads, 0.05, {
      momentum: 0.9,
      dampening: 0,
      weightDecay: 0,
      nesterov: true,
    })
    for (let t = 0; t < 4; t++) expectClose(history[t]!.w!, expected[t]!)
  })

  it("SGD matches torch with momentum, dampening and weight decay", () => {
    const history = run("SGD", ["momentum=0.8", "dampening=0.3", "weight_decay=0.01"])
    const expected = torchSgd(init, grads, 0.05, {
      momentum: 0.8,
      dampening: 0.3,
      weightDecay: 0.01,
      nesterov: false,
    })
    for (let t = 0; t < 4; t++) expectClose(history[t]!.w!, expected[t]!)
  })

  it("plain SGD keeps no state", () => {
    const history = run("SGD", [])
    const expected = torchSgd(init, grads, 0.05, {
      momentum: 0,
      dampening: 0,
      weightDecay: 0,
      nesterov: false,
    })
    for (let t = 0; t < 4; t++) expectClose(history[t]!.w!, expected[t]!)
  })
})
