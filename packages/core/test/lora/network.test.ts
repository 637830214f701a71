import { expect, test } from "vitest"
import { grad } from "../../src/autodiff/grad.js"
import { LoraNetwork, loraDownName, loraUpName } from "../../src/lora/index.js"
import { sd1TextConditioning, tinyClipL, tinySd1UNet, unet, unetPrefix } from "../../src/models/index.js"
import { type ModuleAdapter, WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"
import { adamW } from "../../src/optim/index.js"
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

test("tensors() go to adamW as they are, and manifest() lists every state with shape and dtype", () => {
  const network = LoraNetwork.create({ rank: 2, alpha: 1 })
  const { out } = build([network.adapter])
  const params = [...network.tensors().values()]
  const grads = grad(T.sum(out), params)
  const updates = adamW(
    params.map((param, i) => ({ param, grad: grads[i]! })),
    { lr: T.input("lr", []), step: T.input("step", []) },
  )
  const q = "lora_te_text_model_encoder_layers_0_self_attn_q_proj"
  expect(Object.keys(updates)).toContain(loraDownName(q))
  const manifest = network.manifest()
  // 3 layers × 6 modules × (down, up)
  expect(manifest.size).toBe(36)
  expect([...manifest.keys()].sort()).toEqual([...network.tensors().keys()].sort())
  expect(manifest.get(loraDownName(q))).toEqual({ key: loraDownName(q), shape: [2, 32], dtype: "f32" })
})

test('targets: "attention" adapts only the attention projections (q, k, v, out)', () => {
  const network = LoraNetwork.create({ rank: 2, alpha: 1, targets: "attention", convRank: 2 })
  const scope = WeightScope.root({ adapters: [network.adapter] })
  unet(scope.at(unetPrefix), tinySd1UNet, {
    x: T.input("x", [1, 4, 8, 8]),
    timesteps: T.input("t", [1]),
    context: T.input("c", [1, 8, 32]),
  })
  sd1TextConditioning(scope, tinyClipL, T.input("tokens", [1, 8], "i32"))
  const names = network.modules().map((m) => m.name)
  const unetNames = names.filter((n) => n.startsWith("lora_unet_"))
  const teNames = names.filter((n) => n.startsWith("lora_te_"))
  expect(unetNames.length).toBeGreaterThan(0)
  expect(unetNames.every((n) => /_attn[12]_(to_q|to_k|to_v|to_out_0)$/.test(n))).toBe(true)
  const transformers = new Set(unetNames.map((n) => n.replace(/_transformer_blocks_.*$/, ""))).size
  expect(unetNames.length).toBe(transformers * 8)
  expect(teNames.length).toBe(3 * 4)
  expect(teNames.every((n) => /_self_attn_(q|k|v|out)_proj$/.test(n))).toBe(true)
})
