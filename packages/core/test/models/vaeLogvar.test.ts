// The tiny VAE's agreement with PyTorch is checked by the model goldens (goldens.reference.test.ts).
import { expect, test } from "vitest"
import { tinyVae, vaeEncode, vaePrefix } from "../../src/models/index.js"
import { WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"
import { evaluateExact } from "../../src/reference/index.js"
import { syntheticFeeds } from "../../src/testing/syntheticWeights.js"

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
