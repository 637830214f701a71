import { describe, expect, it } from "vitest"
import { checkpoint } from "../../src/autodiff/checkpoint.js"
import { grad } from "../../src/autodiff/grad.js"
import { planExecution, Reference, T, type Tensor } from "../../src/index.js"
import { uniformF32 } from "../../src/random/philox.js"

const width = 16
const depth = 6
const seeded = (n: number, seed: number) =>
  Float64Array.from(uniformF32(n, seed, 0), (v) => (2 * v - 1) * 0.5)

/** A residual MLP: the shape of a UNet's block stack, with weights as state and one weight shared by all. */
const model = (withCheckpoints: boolean) => {
  const x = T.input("x", [8, width])
  const shared = T.state("shared", [width])
  const weights = Array.from({ length: depth }, (_, i) => T.state(`w${i}`, [width, width]))
  const block = (h: Tensor, w: Tensor): Tensor =>
    T.add(h, T.mul(T.gelu(T.matmul(T.layerNorm(h, shared, shared), w)), 0.5))
  let h: Tensor = T.mul(x, shared)
  for (const [i, w] of weights.entries()) {
    const inner = (a: Tensor, b: Tensor) => (i % 2 === 0 ? block(a, b) : block(block(a, b), b))
    h = withCheckpoints
      ? checkpoint([h, w], (a, b) => (i === 3 ? checkpoint([a, b], inner) : inner(a, b)))
      : inner(h, w)
  }
  const loss = T.mean(T.square(h))
  return { loss, grads: grad(loss, [shared, x, ...weights]) }
}

const feeds = () => {
  const values: Record<string, Float64Array> = {
    x: seeded(8 * width, 1),
    shared: seeded(width, 2).map((v) => 1 + v),
  }
  for (let i = 0; i < depth; i++) values[`w${i}`] = seeded(width * width, 10 + i)
  return values
}

describe("gradient checkpointing", () => {
  it("gives the same gradients as keeping every activation (nested blocks, shared weights, inputs as targets)", () => {
    const plain = model(false)
    const checkpointed = model(true)
    const expected = Reference.evaluateExact([plain.loss, ...plain.grads], feeds())
    const actual = Reference.evaluateExact([checkpointed.loss, ...checkpointed.grads], feeds())
    for (const [k, values] of expected.entries()) {
      for (const [i, v] of values.entries()) expect(actual[k]![i]).toBeCloseTo(v, 12)
    }
  })

  it("needs less memory: block activations are recomputed, not kept for the backward pass", () => {
    const peakBytes = (withCheckpoints: boolean) => {
      const { grads } = model(withCheckpoints)
      const plan = planExecution(Reference.referenceDevice, {
        outputs: Object.fromEntries(grads.map((g, i) => [`g${i}`, g])),
      })
      return plan.slotSpecs.reduce((total, spec) => total + spec.shape.reduce((a, b) => a * b, 1), 0)
    }
    expect(peakBytes(true)).toBeLessThan(peakBytes(false))
  })
})
