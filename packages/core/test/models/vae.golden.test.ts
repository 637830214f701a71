import { expect, test } from "vitest"
import { grad } from "../../src/autodiff/grad.js"
import { tinyVae, vaeDecode, vaeEncode, vaeLatent, vaePrefix } from "../../src/models/index.js"
import { WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"
import { evaluateExact } from "../../src/reference/index.js"
import type { Tensor } from "../../src/tensor/tensor.js"
import { loadGolden, relativeError } from "./golden.js"
import { synthetic, syntheticFeeds } from "./syntheticWeights.js"

test("the tiny VAE encodes and decodes as the PyTorch LDM AutoencoderKL, with gradients", () => {
  const golden = loadGolden("vae")
  const scope = WeightScope.root()
  const image = T.input("image", [1, 3, 16, 16])
  const noise = T.input("noise", [1, 4, 8, 8])
  const latentIn = T.input("latent", [1, 4, 8, 8])
  const config = { ...tinyVae, scaleFactor: 0.18215 }
  const posterior = vaeEncode(scope.at(vaePrefix), config, image)
  const latent = vaeLatent(config, posterior, noise)
  const decoded = vaeDecode(scope.at(vaePrefix), config, latentIn)

  const ours = Object.fromEntries([...scope.manifest().values()].map((e) => [e.key, [...e.shape]]))
  expect(ours).toEqual(golden.keys)

  const weighted = (x: Tensor, name: string) =>
    T.sum(T.mul(x, T.constant(synthetic(`golden.cotangent.${name}`, x.shape), x.shape)))
  const loss = T.add(weighted(latent, "latent"), weighted(decoded, "decoded"))
  const watched = [...golden.tensors.keys()].filter((k) => k.startsWith(`grad.${vaePrefix}.`))
  const grads = grad(loss, [image, latentIn, ...watched.map((k) => scope.tensors().get(k.slice(5))!)])
  const feeds: Record<string, Float64Array | Int32Array> = syntheticFeeds(scope.manifest())
  for (const [k, v] of golden.tensors) if (k.startsWith("input.")) feeds[k.slice(6)] = v.data
  const values = evaluateExact([posterior.mean, posterior.logvar, latent, decoded, loss, ...grads], feeds)
  const [mean, logvar, latentValue, decodedValue, lossValue, ...gradValues] = values

  expect(relativeError(mean!, golden.get("mean").data)).toBeLessThan(1e-5)
  expect(relativeError(logvar!, golden.get("logvar").data)).toBeLessThan(1e-5)
  expect(relativeError(latentValue!, golden.get("latent").data)).toBeLessThan(1e-5)
  expect(relativeError(decodedValue!, golden.get("decoded").data)).toBeLessThan(1e-5)
  expect(lossValue![0]).toBeCloseTo(Number(golden.metadata.loss), 6)
  ;["image", "latent", ...watched.map((k) => k.slice(5))].forEach((label, i) => {
    const expected = golden.get(`grad.${label}`).data
    expect(Math.max(...Array.from(expected, Math.abs)), label).toBeGreaterThan(1e-6)
    expect(relativeError(gradValues[i]!, expected), label).toBeLessThan(1e-5)
  })
})

test("the VAE clamps logvar to [-30, 20] as LDM does", () => {
  const scope = WeightScope.root()
  const posterior = vaeEncode(scope.at(vaePrefix), tinyVae, T.input("image", [1, 3, 16, 16]))
  const feeds: Record<string, Float64Array> = syntheticFeeds(scope.manifest())
  const bias = `${vaePrefix}.quant_conv.bias`
  feeds[bias] = Float64Array.from([0, 0, 0, 0, 100, -100, 5, 0])
  feeds.image = new Float64Array(3 * 16 * 16)
  const [logvar] = evaluateExact([posterior.logvar], feeds)
  const channel = (c: number) => Array.from(logvar!.slice(c * 64, (c + 1) * 64))
  expect(Math.min(...channel(0))).toBe(20)
  expect(Math.max(...channel(1))).toBe(-30)
  expect(Math.max(...channel(2))).toBeLessThan(20)
})
