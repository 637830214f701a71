import { describe, expect, test } from "vitest"
import { grad } from "../../src/autodiff/grad.js"
import {
  gatherPositions,
  sd1TextConditioning,
  sd2TextConditioning,
  textEncoderPrefixes,
  textTransformer,
  tinyClipL,
  tinyOpenClip,
} from "../../src/models/index.js"
import { WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"
import { evaluateExact } from "../../src/reference/index.js"
import type { Tensor } from "../../src/tensor/tensor.js"
import { type Golden, loadGolden, relativeError } from "./golden.js"
import { synthetic, syntheticFeeds } from "./syntheticWeights.js"

const weighted = (x: Tensor, name: string): Tensor =>
  T.sum(T.mul(x, T.constant(synthetic(`golden.cotangent.${name}`, x.shape), x.shape)))

const manifestOf = (scope: WeightScope) =>
  Object.fromEntries([...scope.manifest().values()].map((e) => [e.key, [...e.shape]]))

/** Evaluates outputs and the loss gradients of the golden's watched weights; checks them all. */
const expectGolden = (
  golden: Golden,
  scope: WeightScope,
  outputs: Readonly<Record<string, Tensor>>,
  loss: Tensor,
): void => {
  const watched = [...golden.tensors.keys()].filter((k) => k.startsWith("grad."))
  const grads = grad(
    loss,
    watched.map((k) => scope.tensors().get(k.slice(5))!),
  )
  const feeds: Record<string, Float64Array | Int32Array> = syntheticFeeds(scope.manifest())
  for (const [k, v] of golden.tensors) if (k.startsWith("input.")) feeds[k.slice(6)] = v.data
  const names = Object.keys(outputs)
  const values = evaluateExact([...Object.values(outputs), loss, ...grads], feeds)
  names.forEach((name, i) => {
    expect(relativeError(values[i]!, golden.get(name).data), name).toBeLessThan(1e-5)
  })
  expect(values[names.length]![0]).toBeCloseTo(Number(golden.metadata.loss), 6)
  watched.forEach((label, i) => {
    const expected = golden.get(label).data
    expect(Math.max(...Array.from(expected, Math.abs)), label).toBeGreaterThan(1e-6)
    expect(relativeError(values[names.length + 1 + i]!, expected), label).toBeLessThan(1e-5)
  })
}

describe("CLIP text encoders agree with PyTorch", () => {
  test("CLIP-L layout (SD1): last hidden state and A1111 clip skip 2, with gradients", () => {
    const golden = loadGolden("clip-hf")
    const scope = WeightScope.root()
    const tokens = T.input("tokens", [2, 8], "i32")
    const last = sd1TextConditioning(scope, tinyClipL, tokens, 1)
    const skip2 = sd1TextConditioning(scope, tinyClipL, tokens, 2)
    expect(manifestOf(scope)).toEqual(golden.keys)
    expectGolden(golden, scope, { last, skip2 }, T.add(weighted(last, "last"), weighted(skip2, "skip2")))
  })

  test("OpenCLIP layout (SD2/SDXL bigG): penultimate ± ln_final and the pooled projection", () => {
    const golden = loadGolden("clip-openclip")
    const scope = WeightScope.root()
    const tokens = T.input("tokens", [2, 8], "i32")
    const eos = T.input("eos", [2], "i32")
    const penultimate = sd2TextConditioning(scope, tinyOpenClip, tokens)
    const out = textTransformer(scope.at(textEncoderPrefixes.sd2), tinyOpenClip, tokens)
    const raw = out.hidden[out.hidden.length - 2]!
    const pooled = out.project!(gatherPositions(out.finalLayerNorm(out.hidden[out.hidden.length - 1]!), eos))
    expect(manifestOf(scope)).toEqual(golden.keys)
    const loss = T.add(
      T.add(weighted(penultimate, "penultimate"), weighted(raw, "raw")),
      weighted(pooled, "pooled"),
    )
    expectGolden(golden, scope, { penultimate, raw, pooled }, loss)
  })
})
