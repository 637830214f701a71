import { expect, test } from "vitest"
import { LoraNetwork } from "../../src/lora/index.js"
import {
  sd2TextConditioning,
  tinyOpenClip,
  tinySdxlUNet,
  tinyVae,
  unet,
  unetPrefix,
  vaeDecode,
  vaePrefix,
} from "../../src/models/index.js"
import { WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"

test("models build with f16 base weights and f32 LoRA weights (every dtype meets its match)", () => {
  const network = LoraNetwork.create({ rank: 2, alpha: 1, convRank: 2 })
  const scope = WeightScope.root({ dtype: "f16", adapters: [network.adapter] })
  const out = unet(scope.at(unetPrefix), tinySdxlUNet, {
    x: T.input("x", [1, 4, 8, 8], "f16"),
    timesteps: T.input("t", [1]),
    context: T.input("c", [1, 8, 32], "f16"),
    y: T.input("y", [1, 48], "f16"),
  })
  expect(out.dtype).toBe("f16")
  expect(sd2TextConditioning(scope, tinyOpenClip, T.input("tokens", [1, 8], "i32")).dtype).toBe("f16")
  expect(vaeDecode(scope.at(vaePrefix), tinyVae, T.input("z", [1, 4, 4, 4], "f16")).dtype).toBe("f16")
  expect([...scope.manifest().values()].every((e) => e.dtype === "f16")).toBe(true)
  expect([...network.tensors().values()].every((t) => t.dtype === "f32")).toBe(true)
})
