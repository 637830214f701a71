import { describe, it } from "vitest"
import { makeOptimizer } from "../../src/optim/makeOptimizer.js"
import { draw, expectClose, runOptimizer } from "./runOptimizer.js"

describe("Lion", () => {
  it("matches lion-pytorch's step over several steps", () => {
    const [beta1, beta2, wd] = [0.95, 0.98, 0.1]
    const optimizer = makeOptimizer("Lion", [`betas=(${beta1},${beta2})`, `weight_decay=${wd}`])
    const init = draw(6, 1)
    const grads = (t: number) => ({ w: draw(6, 10 + t) })
    const lrs = (t: number) => [1e-3 * t]
    const history = runOptimizer(optimizer, [{ name: "w", shape: [2, 3], init }], 4, grads, lrs)
    const [p, m] = [Float64Array.from(init), new Float64Array(6)]
    for (let t = 1; t <= 4; t++) {
      const [g, lr] = [grads(t).w, lrs(t)[0]!]
      for (let i = 0; i < 6; i++) {
        p[i] = p[i]! * (1 - lr * wd)
        p[i] = p[i]! - lr * Math.sign(beta1 * m[i]! + (1 - beta1) * g[i]!)
        m[i] = beta2 * m[i]! + (1 - beta2) * g[i]!
      }
      expectClose(history[t - 1]!.w!, p)
      expectClose(history[t - 1]!["optimizer.w.exp_avg"]!, m)
    }
  })
})
