import { describe, expect, it } from "vitest"
import { planExecution, Reference, type Tensor } from "../../src/index.js"
import { tinyLoraStep, tinyLoraStepFeeds } from "./tinyLoraStep.js"

describe("gradient checkpointing on the SD models", () => {
  it("leaves the loss and every LoRA gradient unchanged", () => {
    const plain = tinyLoraStep(false)
    const checkpointed = tinyLoraStep(true)
    const [loss, ...grads] = Reference.evaluateExact(
      [plain.loss, ...plain.grads],
      tinyLoraStepFeeds(plain.scope, plain.network),
    )
    const [loss2, ...grads2] = Reference.evaluateExact(
      [checkpointed.loss, ...checkpointed.grads],
      tinyLoraStepFeeds(checkpointed.scope, checkpointed.network),
    )
    expect(loss2![0]).toBeCloseTo(loss![0]!, 12)
    expect(grads2.length).toBe(grads.length)
    for (const [k, g] of grads.entries()) {
      const tolerance = 1e-10 * Math.max(...Array.from(g, Math.abs), 1)
      for (const [i, v] of g.entries()) expect(Math.abs(grads2[k]![i]! - v)).toBeLessThanOrEqual(tolerance)
    }
  })

  it("plans less activation memory", () => {
    const slotElements = (grads: ReadonlyArray<Tensor>) =>
      planExecution(Reference.referenceDevice, {
        outputs: Object.fromEntries(grads.map((g, i) => [`g${i}`, g])),
      }).slotSpecs.reduce((total, spec) => total + spec.shape.reduce((a, b) => a * b, 1), 0)
    expect(slotElements(tinyLoraStep(true).grads)).toBeLessThan(slotElements(tinyLoraStep(false).grads))
  })
})
