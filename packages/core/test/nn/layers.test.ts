import { describe, expect, test } from "vitest"
import { sdxlVector } from "../../src/models/index.js"
import {
  causalMask,
  checkManifest,
  linear,
  mergeHeads,
  splitHeads,
  timestepEmbedding,
  WeightScope,
} from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"
import { evaluateExact } from "../../src/reference/index.js"

describe("timestepEmbedding", () => {
  test("is LDM's [cos, sin] with freq_i = exp(-ln(10000)·i/half)", () => {
    const [out] = evaluateExact([timestepEmbedding(T.input("t", [2]), 6)], { t: Float64Array.of(0, 7.5) })
    const expected = [0, 7.5].flatMap((t) => {
      const args = [0, 1, 2].map((i) => t * Math.exp((-Math.log(10000) * i) / 3))
      return [...args.map(Math.cos), ...args.map(Math.sin)]
    })
    Array.from(out!).forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i]!, 12)
    })
  })

  test("pads an odd width with a zero column", () => {
    const [out] = evaluateExact([timestepEmbedding(T.input("t", [1]), 5)], { t: Float64Array.of(3) })
    expect(out!.length).toBe(5)
    expect(out![4]).toBe(0)
  })
})

test("SDXL's vector is the pooled embedding, then 256-wide embeddings of h, w, top, left, h, w", () => {
  const y = sdxlVector(T.input("pooled", [1, 3]), T.input("sizes", [1, 6]), 4)
  const [out] = evaluateExact([y], {
    pooled: Float64Array.of(1, 2, 3),
    sizes: Float64Array.of(1024, 768, 0, 16, 1024, 1024),
  })
  expect(Array.from(out!.slice(0, 3))).toEqual([1, 2, 3])
  const [embedded] = evaluateExact([timestepEmbedding(T.input("t", [1]), 4)], { t: Float64Array.of(16) })
  Array.from(embedded!).forEach((v, i) => {
    expect(out![3 + 3 * 4 + i]).toBeCloseTo(v, 12)
  })
})

test("splitHeads/mergeHeads are inverse and split the channel axis head-major", () => {
  const x = T.input("x", [1, 2, 4])
  const heads = splitHeads(x, 2)
  expect(heads.shape).toEqual([1, 2, 2, 2])
  const data = Float64Array.from({ length: 8 }, (_, i) => i)
  const [split, merged] = evaluateExact([heads, mergeHeads(heads)], { x: data })
  // token 0 = [0 1 | 2 3], token 1 = [4 5 | 6 7]: head 0 sees [0 1], [4 5]
  expect(Array.from(split!)).toEqual([0, 1, 4, 5, 2, 3, 6, 7])
  expect(Array.from(merged!)).toEqual(Array.from(data))
})

test("the causal mask hides later positions", () => {
  const [mask] = evaluateExact([causalMask(3)], {})
  expect(Array.from(mask!)).toEqual([0, -Infinity, -Infinity, 0, 0, -Infinity, 0, 0, 0])
})

describe("WeightScope", () => {
  test("names weights by full key, records them once, and refuses a second shape", () => {
    const scope = WeightScope.root()
    const layer = scope.at("model", "diffusion_model").at("time_embed", 0)
    const y = linear(layer, T.input("x", [2, 3]), { inFeatures: 3, outFeatures: 5 })
    expect(y.shape).toEqual([2, 5])
    expect([...scope.manifest().keys()]).toEqual([
      "model.diffusion_model.time_embed.0.weight",
      "model.diffusion_model.time_embed.0.bias",
    ])
    expect(layer.weight("weight", [5, 3])).toBe(
      scope.tensors().get("model.diffusion_model.time_embed.0.weight"),
    )
    expect(() => layer.weight("weight", [3, 5])).toThrow(/asked for as \[5,3\] f32 and now as \[3,5\]/)
  })

  test("records layers with their diffusers alias and enclosing classes; adapters wrap the output", () => {
    const seen: Array<string> = []
    const scope = WeightScope.root({
      adapters: [
        (module, _x, y) => {
          seen.push(`${module.path} ~ ${module.diffusersPath} in ${module.within.join("/")}`)
          return T.mul(y, 2)
        },
      ],
    })
    const unetRoot = scope.at("model.diffusion_model").component("unet")
    const block = unetRoot.at("input_blocks", 4, 0).alias("down_blocks.1.resnets.0").within("ResnetBlock2D")
    const y = linear(block.at("emb_layers", 1).alias("time_emb_proj"), T.input("x", [1, 2]), {
      inFeatures: 2,
      outFeatures: 2,
      bias: false,
    })
    expect(seen).toEqual([
      "input_blocks.4.0.emb_layers.1 ~ down_blocks.1.resnets.0.time_emb_proj in ResnetBlock2D",
    ])
    const [out] = evaluateExact([y], {
      x: Float64Array.of(1, 1),
      "model.diffusion_model.input_blocks.4.0.emb_layers.1.weight": Float64Array.of(1, 0, 0, 1),
    })
    expect(Array.from(out!)).toEqual([2, 2])
  })

  test("checkManifest reports missing, unused and mis-shaped tensors", () => {
    const scope = WeightScope.root()
    linear(scope.at("a"), T.input("x", [1, 2]), { inFeatures: 2, outFeatures: 3 })
    const check = checkManifest(scope.manifest(), [
      { name: "a.weight", shape: [3, 3] },
      { name: "betas", shape: [1000] },
    ])
    expect(check.missing).toEqual(["a.bias"])
    expect(check.unused).toEqual(["betas"])
    expect(check.mismatched).toEqual(["a.weight: checkpoint [3,3] vs model [3,2]"])
  })
})
