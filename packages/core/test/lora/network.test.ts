import { expect, test } from "vitest"
import { grad } from "../../src/autodiff/grad.js"
import { LoraNetwork, loraDownName, loraUpName } from "../../src/lora/index.js"
import { sd1TextConditioning, tinyClipL, tinySd1UNet, unet, unetPrefix } from "../../src/models/index.js"
import { type ModuleAdapter, WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"
import { adamW } from "../../src/optim/index.js"
import { evaluateExact, refFromHost } from "../../src/reference/index.js"
import type { HostTensor } from "../../src/tensor/hostTensor.js"
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

const tokens = Int32Array.from([62, 5, 17, 40, 63, 63, 63, 63])

/** The network's starting weights with every `up` made non-zero, so that each LoRA changes the output. */
const activeWeights = (network: LoraNetwork, seed: number) =>
  Object.fromEntries(
    Object.entries(network.initialWeights(seed)).map(([name, t]: [string, HostTensor<"f32">]) => [
      name,
      name.endsWith(".lora_up.weight")
        ? Float64Array.from(t.data, (_, i) => ((i % 7) - 3) / 10)
        : refFromHost(t),
    ]),
  )

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

test("two networks on one layer need distinct prefixes; with them each keeps its own weights", () => {
  expect(() =>
    build([
      LoraNetwork.create({ rank: 2, alpha: 1 }).adapter,
      LoraNetwork.create({ rank: 2, alpha: 1 }).adapter,
    ]),
  ).toThrow(
    /^two adapters claim the state "lora_te_text_model_encoder_layers_0_self_attn_q_proj\.lora_down\.weight": give each LoRA network its own prefix$/,
  )
  // Networks on different layers need none.
  build([
    LoraNetwork.create({ rank: 2, alpha: 1, components: ["unet"] }).adapter,
    LoraNetwork.create({ rank: 2, alpha: 1 }).adapter,
  ])

  const character = LoraNetwork.create({ rank: 2, alpha: 1 })
  const style = LoraNetwork.create({ rank: 2, alpha: 1, prefix: "style." })
  const both = build([character.adapter, style.adapter])
  expect([...style.tensors().keys()].every((k) => k.startsWith("style.lora_te_"))).toBe(true)
  expect([...character.tensors().keys()].every((k) => k.startsWith("lora_te_"))).toBe(true)
  const characterWeights = activeWeights(character, 1)
  const styleWeights = activeWeights(style, 2)
  expect(Object.keys(styleWeights).every((k) => k.startsWith("style."))).toBe(true)
  // The file keeps kohya's names: the prefix is the program's, not the LoRA's.
  expect(style.moduleWeights(style.initialWeights(2))[0]!.name).toMatch(/^lora_te_text_model/)

  // Two rank-2 LoRAs with scale ½ on a layer are one rank-4 LoRA with scale ½ whose down stacks both downs
  // and whose up sets both ups side by side: the output must be that network's.
  const joint = LoraNetwork.create({ rank: 4, alpha: 2 })
  const alone = build([joint.adapter])
  const jointWeights: Record<string, Float64Array> = {}
  for (const { name, upShape } of joint.modules()) {
    const [down1, down2] = [
      characterWeights[loraDownName(name)]!,
      styleWeights[`style.${loraDownName(name)}`]!,
    ]
    jointWeights[loraDownName(name)] = Float64Array.from([...down1, ...down2])
    const [up1, up2] = [characterWeights[loraUpName(name)]!, styleWeights[`style.${loraUpName(name)}`]!]
    jointWeights[loraUpName(name)] = Float64Array.from({ length: upShape[0]! * 4 }, (_, i) => {
      const [row, column] = [Math.floor(i / 4), i % 4]
      return column < 2 ? up1[row * 2 + column]! : up2[row * 2 + column - 2]!
    })
  }
  const base = { ...syntheticFeeds(both.scope.manifest()), tokens }
  const [together] = evaluateExact([both.out], { ...base, ...characterWeights, ...styleWeights })
  const [expected] = evaluateExact([alone.out], { ...base, ...jointWeights })
  const [plain] = evaluateExact([build([]).out], base)
  for (const [i, v] of together!.entries()) expect(v).toBeCloseTo(expected![i]!, 9)
  expect(Array.from(together!)).not.toEqual(Array.from(plain!))
})

test("a multiplier given as a graph input sets the strength at run time", () => {
  const scaled = LoraNetwork.create({ rank: 2, alpha: 1, multiplier: T.input("lora_multiplier", []) })
  const fixed = LoraNetwork.create({ rank: 2, alpha: 1, multiplier: 0.5 })
  const a = build([scaled.adapter])
  const b = build([fixed.adapter])
  const feeds = { ...syntheticFeeds(a.scope.manifest()), tokens, ...activeWeights(fixed, 4) }
  const [atHalf] = evaluateExact([a.out], { ...feeds, lora_multiplier: Float64Array.of(0.5) })
  const [atOne] = evaluateExact([a.out], { ...feeds, lora_multiplier: Float64Array.of(1) })
  const [expected] = evaluateExact([b.out], feeds)
  expect(Array.from(atHalf!)).toEqual(Array.from(expected!))
  expect(Array.from(atOne!)).not.toEqual(Array.from(expected!))
})

test("adapterWith(hook) changes each module's hidden state and delta; the plain adapter stays as it was", () => {
  const network = LoraNetwork.create({ rank: 2, alpha: 1 })
  const plain = build([network.adapter])
  const feeds = { ...syntheticFeeds(plain.scope.manifest()), tokens, ...activeWeights(network, 3) }
  const [base] = evaluateExact([build([]).out], feeds)
  const [adapted] = evaluateExact([plain.out], feeds)
  expect(Array.from(adapted!)).not.toEqual(Array.from(base!))
  const seen: Array<number> = []
  const silenced = build([
    network.adapterWith((hidden, _lora, index) => {
      seen.push(index)
      return { hidden: T.mul(hidden, 0) }
    }),
  ])
  expect(seen).toEqual(network.modules().map((_, i) => i))
  const [off] = evaluateExact([silenced.out], feeds)
  expect(Array.from(off!)).toEqual(Array.from(base!))
  // A gain of 0 on every module but the first: only the first module's delta remains.
  const first = network.modules()[0]!
  const only = build([network.adapterWith((hidden, lora) => ({ hidden, gain: lora === first ? 1 : 0 }))])
  const [kept] = evaluateExact([only.out], feeds)
  expect(Array.from(kept!)).not.toEqual(Array.from(base!))
  expect(Array.from(kept!)).not.toEqual(Array.from(adapted!))
})
