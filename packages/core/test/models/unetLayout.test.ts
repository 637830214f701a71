// The tiny UNets' agreement with PyTorch is checked by the model goldens (goldens.reference.test.ts).
import { expect, test } from "vitest"
import { sd15UNet, unet, unetPrefix } from "../../src/models/index.js"
import { WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"

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
