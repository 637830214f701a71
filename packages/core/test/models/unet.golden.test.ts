import { describe, expect, test } from "vitest"
import { grad } from "../../src/autodiff/grad.js"
import {
  sd15UNet,
  tinySd1UNet,
  tinySd2UNet,
  tinySdxlUNet,
  type UNetConfig,
  unet,
  unetPrefix,
} from "../../src/models/index.js"
import { WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"
import { evaluateExact } from "../../src/reference/index.js"
import { loadGolden, relativeError } from "./golden.js"
import { synthetic, syntheticFeeds } from "./syntheticWeights.js"

const cases: ReadonlyArray<readonly [string, UNetConfig]> = [
  ["unet-sd1", tinySd1UNet],
  ["unet-sd2", tinySd2UNet],
  ["unet-sdxl", tinySdxlUNet],
]

describe.each(cases)("%s agrees with the PyTorch LDM UNet", (name, config) => {
  const golden = loadGolden(name)
  const scope = WeightScope.root()
  const x = T.input("x", [2, 4, 8, 8])
  const context = T.input("context", [2, 8, 32])
  const timesteps = T.input("timesteps", [2])
  const y = config.admInChannels === undefined ? undefined : T.input("y", [2, config.admInChannels])
  const out = unet(scope.at(unetPrefix), config, { x, timesteps, context, ...(y ? { y } : {}) })

  test("asks for exactly the checkpoint keys and shapes of the original", () => {
    const ours = Object.fromEntries([...scope.manifest().values()].map((e) => [e.key, [...e.shape]]))
    expect(ours).toEqual(golden.keys)
  })

  test("forward output and gradients match", () => {
    const watched = [...golden.tensors.keys()].filter((k) => k.startsWith(`grad.${unetPrefix}.`))
    const weights = watched.map((k) => scope.tensors().get(k.slice("grad.".length))!)
    const loss = T.sum(T.mul(out, T.constant(synthetic("golden.cotangent.output", out.shape), out.shape)))
    const differentiable = y ? [x, context, y] : [x, context]
    const grads = grad(loss, [...differentiable, ...weights])
    const feeds: Record<string, Float64Array | Int32Array> = syntheticFeeds(scope.manifest())
    for (const [k, v] of golden.tensors) if (k.startsWith("input.")) feeds[k.slice("input.".length)] = v.data
    const [output, lossValue, ...gradValues] = evaluateExact([out, loss, ...grads], feeds)

    expect(relativeError(output!, golden.get("output").data)).toBeLessThan(1e-5)
    expect(lossValue![0]).toBeCloseTo(Number(golden.metadata.loss), 5)
    const labels = [...(y ? ["x", "context", "y"] : ["x", "context"]), ...watched.map((k) => k.slice(5))]
    labels.forEach((label, i) => {
      const expected = golden.get(`grad.${label}`).data
      expect(
        Math.max(...Array.from(expected, Math.abs)),
        `${label} gradient is not trivially zero`,
      ).toBeGreaterThan(1e-4)
      expect(relativeError(gradValues[i]!, expected), label).toBeLessThan(1e-5)
    })
  })
})

test("the full SD1.5 UNet has the published parameter count and LDM block layout", () => {
  const scope = WeightScope.root()
  unet(scope.at(unetPrefix), sd15UNet, {
    x: T.input("x", [1, 4, 64, 64]),
    timesteps: T.input("t", [1]),
    context: T.input("c", [1, 77, 768]),
  })
  const manifest = scope.manifest()
  const count = [...manifest.values()].reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0)
  expect(count).toBe(859_520_964)
  const shape = (key: string) => manifest.get(`${unetPrefix}.${key}`)?.shape
  expect(shape("input_blocks.3.0.op.weight")).toEqual([320, 320, 3, 3])
  expect(shape("input_blocks.4.0.skip_connection.weight")).toEqual([640, 320, 1, 1])
  expect(shape("input_blocks.11.0.out_layers.3.weight")).toEqual([1280, 1280, 3, 3])
  expect(shape("input_blocks.10.1.proj_in.weight")).toBeUndefined()
  expect(shape("output_blocks.0.0.in_layers.2.weight")).toEqual([1280, 2560, 3, 3])
  expect(shape("output_blocks.2.1.conv.weight")).toEqual([1280, 1280, 3, 3])
  expect(shape("output_blocks.5.2.conv.weight")).toEqual([1280, 1280, 3, 3])
  expect(shape("output_blocks.8.0.in_layers.2.weight")).toEqual([640, 960, 3, 3])
  expect(shape("output_blocks.9.1.proj_in.weight")).toEqual([320, 320, 1, 1])
  expect(shape("input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight")).toEqual([320, 768])
  expect(shape("input_blocks.1.1.transformer_blocks.0.ff.net.0.proj.weight")).toEqual([2560, 320])
  expect(shape("out.2.weight")).toEqual([4, 320, 3, 3])
})
