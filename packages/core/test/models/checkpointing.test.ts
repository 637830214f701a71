import { describe, expect, it } from "vitest"
import {
  grad,
  LoraNetwork,
  planExecution,
  Reference,
  sd1TextConditioning,
  T,
  type Tensor,
  tinyClipL,
  tinySd1UNet,
  unet,
  unetPrefix,
  WeightScope,
} from "../../src/index.js"
import { syntheticFeeds } from "../../src/testing/syntheticWeights.js"

/** A LoRA training step's gradients on the tiny SD1 UNet and text encoder, with or without checkpointing. */
const build = (gradientCheckpointing: boolean) => {
  const network = LoraNetwork.create({ rank: 2, alpha: 1 })
  const scope = WeightScope.root({ adapters: [network.adapter] })
  const tokens = T.input("tokens", [1, tinyClipL.maxPositions], "i32")
  const context = sd1TextConditioning(scope, tinyClipL, tokens, 1, { gradientCheckpointing })
  const x = T.input("x", [1, 4, 8, 8])
  const out = unet(
    scope.at(unetPrefix),
    tinySd1UNet,
    { x, timesteps: T.input("t", [1]), context },
    { gradientCheckpointing },
  )
  const loss = T.mean(T.square(T.sub(out, x)))
  const lora = [...network.tensors().values()]
  return { scope, network, loss, grads: grad(loss, lora) }
}

const feeds = (scope: WeightScope, network: LoraNetwork) => {
  const values: Record<string, Float64Array | Int32Array> = syntheticFeeds(scope.manifest())
  for (const [name, host] of Object.entries(network.initialWeights(7))) {
    // A trained-looking LoRA: non-zero up weights, so every gradient path carries signal.
    values[name] = Float64Array.from(host.data, (v, i) =>
      name.includes("lora_up") ? 0.05 * Math.sin(i + 1) : v,
    )
  }
  values.tokens = Int32Array.from({ length: tinyClipL.maxPositions }, (_, i) => (i * 7) % tinyClipL.vocabSize)
  values.x = Float64Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.cos(i))
  values.t = Float64Array.of(500)
  return values
}

describe("gradient checkpointing on the SD models", () => {
  it("leaves the loss and every LoRA gradient unchanged", () => {
    const plain = build(false)
    const checkpointed = build(true)
    const [loss, ...grads] = Reference.evaluateExact(
      [plain.loss, ...plain.grads],
      feeds(plain.scope, plain.network),
    )
    const [loss2, ...grads2] = Reference.evaluateExact(
      [checkpointed.loss, ...checkpointed.grads],
      feeds(checkpointed.scope, checkpointed.network),
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
    expect(slotElements(build(true).grads)).toBeLessThan(slotElements(build(false).grads))
  })
})
