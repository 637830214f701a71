import { expect, test } from "vitest"
import { LoraNetwork, loraUpName, mergeLora } from "../../src/lora/index.js"
import { sd2TextConditioning, tinyOpenClip } from "../../src/models/index.js"
import { type ModuleAdapter, WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"
import { evaluateExact, refFromHost } from "../../src/reference/index.js"
import { hostTensor } from "../../src/tensor/hostTensor.js"
import { relativeError } from "../../src/testing/golden.js"
import { hashedUniform, syntheticFeeds } from "../../src/testing/syntheticWeights.js"

test("LoRAs on OpenCLIP's fused q/k/v rows merge into their rows of in_proj_weight only", () => {
  const tokens = { tokens: Int32Array.from([62, 5, 17, 40, 63, 0, 0, 0]) }
  const build = (adapters: ReadonlyArray<ModuleAdapter>) => {
    const scope = WeightScope.root({ adapters })
    return { scope, out: sd2TextConditioning(scope, tinyOpenClip, T.input("tokens", [1, 8], "i32")) }
  }
  const network = LoraNetwork.create({ rank: 2, alpha: 1 })
  const adapted = build([network.adapter])
  const base = syntheticFeeds(adapted.scope.manifest())
  const lora = network.initialWeights(3)
  for (const m of network.modules()) {
    const n = m.upShape.reduce((a, b) => a * b, 1)
    lora[loraUpName(m.name)] = hostTensor("f32", m.upShape, Float32Array.from(hashedUniform(m.name, n)))
  }
  const loraFeeds = Object.fromEntries(Object.entries(lora).map(([k, t]) => [k, refFromHost(t)]))
  const [unmerged] = evaluateExact([adapted.out], { ...base, ...loraFeeds, ...tokens })

  const baseHost = new Map(
    Object.entries(base).map(([k, v]) => [
      k,
      hostTensor("f32", adapted.scope.manifest().get(k)!.shape, Float32Array.from(v)),
    ]),
  )
  const merged = mergeLora(baseHost, network.moduleWeights(lora))
  const inProj = "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight"
  expect(merged.has(inProj)).toBe(true)
  expect(network.modules().filter((m) => m.module.weightKey === inProj).length).toBe(3)

  const plain = build([])
  const mergedFeeds = Object.fromEntries([...merged].map(([k, t]) => [k, refFromHost(t)]))
  const [mergedOut, baseOut] = [
    evaluateExact([plain.out], { ...base, ...mergedFeeds, ...tokens })[0]!,
    evaluateExact([plain.out], { ...base, ...tokens })[0]!,
  ]
  expect(relativeError(baseOut, unmerged!)).toBeGreaterThan(1e-2)
  expect(relativeError(mergedOut, unmerged!)).toBeLessThan(1e-5)
})
