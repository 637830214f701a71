import { expect, test } from "vitest"
import { LoraNetwork, loraDownName, loraUpName } from "../../src/lora/index.js"
import { sd1TextConditioning, tinyClipL } from "../../src/models/index.js"
import { type ModuleAdapter, WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"
import { evaluateExact, refFromHost } from "../../src/reference/index.js"
import { syntheticFeeds } from "../../src/testing/syntheticWeights.js"

const build = (adapters: ReadonlyArray<ModuleAdapter>) => {
  const scope = WeightScope.root({ adapters })
  return { scope, out: sd1TextConditioning(scope, tinyClipL, T.input("tokens", [1, 8], "i32")) }
}

test("a new network starts as a no-op, from a seed-reproducible kaiming-uniform down", () => {
  const network = LoraNetwork.create({ rank: 4, alpha: 4 })
  const adapted = build([network.adapter])
  const first = network.initialWeights(11)
  const again = network.initialWeights(11)
  const other = network.initialWeights(12)
  const name = "lora_te_text_model_encoder_layers_1_mlp_fc2"
  const down = first[loraDownName(name)]!
  expect(down.shape).toEqual([4, 64])
  expect(Array.from(down.data)).toEqual(Array.from(again[loraDownName(name)]!.data))
  expect(Array.from(down.data)).not.toEqual(Array.from(other[loraDownName(name)]!.data))
  const bound = 1 / Math.sqrt(64)
  expect(Math.max(...Array.from(down.data, Math.abs))).toBeLessThanOrEqual(bound)
  expect(Math.max(...Array.from(down.data, Math.abs))).toBeGreaterThan(0.9 * bound)
  expect(Array.from(first[loraUpName(name)]!.data).every((v) => v === 0)).toBe(true)

  const base = syntheticFeeds(adapted.scope.manifest())
  const feeds = { ...base, tokens: Int32Array.from([62, 5, 17, 40, 63, 63, 63, 63]) }
  const lora = Object.fromEntries(Object.entries(first).map(([k, t]) => [k, refFromHost(t)]))
  const [withLora] = evaluateExact([adapted.out], { ...feeds, ...lora })
  const [without] = evaluateExact([build([]).out], feeds)
  expect(Array.from(withLora!)).toEqual(Array.from(without!))
})

test("components limits a network to part of the model", () => {
  const network = LoraNetwork.create({ rank: 2, alpha: 1, components: ["unet"] })
  build([network.adapter])
  expect(network.modules()).toEqual([])
})
