import { describe, expect, it } from "vitest"
import { input, state } from "../../src/ops/sources.js"
import { adamW, momentNames } from "../../src/optim/adamW.js"
import { compileExact } from "../../src/reference/evaluate.js"

/** torch.optim.AdamW's update written out plainly, element by element, as its documentation states it. */
const torchAdamW = (p: number, g: number, m: number, v: number, lr: number, t: number) => {
  const [beta1, beta2, eps, wd] = [0.9, 0.999, 1e-8, 0.01]
  const decayed = p * (1 - lr * wd)
  const m1 = beta1 * m + (1 - beta1) * g
  const v1 = beta2 * v + (1 - beta2) * g * g
  const stepSize = lr / (1 - beta1 ** t)
  const denominator = Math.sqrt(v1) / Math.sqrt(1 - beta2 ** t) + eps
  return { p: decayed - (stepSize * m1) / denominator, m: m1, v: v1 }
}

describe("AdamW", () => {
  it("matches torch's AdamW arithmetic over several steps", () => {
    const param = state("w", [3])
    const gradient = input("g", [3])
    const updates = adamW([{ param, grad: gradient }], { lr: input("lr", []), step: input("step", []) })
    const names = momentNames("w")
    const step = compileExact([updates.w!, updates[names.m]!, updates[names.v]!])
    let [p, m, v] = [Float64Array.from([0.5, -1, 2]), new Float64Array(3), new Float64Array(3)] as [
      Float64Array,
      Float64Array,
      Float64Array,
    ]
    const expected = { p: [0.5, -1, 2], m: [0, 0, 0], v: [0, 0, 0] }
    for (let t = 1; t <= 4; t++) {
      const g = Float64Array.from([0.1 * t, -0.3, 0.05 / t])
      ;[p, m, v] = step({
        w: p,
        g,
        lr: Float64Array.of(0.01),
        step: Float64Array.of(t),
        [names.m]: m,
        [names.v]: v,
      }) as [Float64Array, Float64Array, Float64Array]
      for (let i = 0; i < 3; i++) {
        const next = torchAdamW(expected.p[i]!, g[i]!, expected.m[i]!, expected.v[i]!, 0.01, t)
        expected.p[i] = next.p
        expected.m[i] = next.m
        expected.v[i] = next.v
      }
      for (let i = 0; i < 3; i++) {
        expect(p[i]).toBeCloseTo(expected.p[i]!, 12)
        expect(m[i]).toBeCloseTo(expected.m[i]!, 12)
        expect(v[i]).toBeCloseTo(expected.v[i]!, 12)
      }
    }
  })
})
