import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer as onnxLayer } from "@danlu/backend-onnx"
import { WebGpu } from "@danlu/backend-webgpu"
import { type Backend, Reference, resolveTrainConfig } from "@danlu/core"
import { backendRequired } from "@danlu/core/testing"
import { type TrainRunEvent, train } from "@danlu/dataset"
import { Effect, type Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { writeCheckpoint, writeSquares } from "./trainFixtures.js"

let root = ""
let model = ""

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-train-backends-"))
  model = join(root, "micro-sd1.safetensors")
  await writeCheckpoint(model)
  await writeSquares(join(root, "train"), 4, 2)
})

/** The step losses of the same 6-step run (seed, data, noise) on one backend. */
const lossCurve = async (name: string, layer: Layer.Layer<Backend, unknown>) => {
  const config = resolveTrainConfig({
    pretrainedModelNameOrPath: model,
    trainDataDir: join(root, "train"),
    outputDir: join(root, `out-${name}`),
    outputName: "sks",
    resolution: { width: 16, height: 16 },
    networkDim: 4,
    networkAlpha: 2,
    learningRate: 1e-2,
    trainBatchSize: 2,
    maxTrainSteps: 6,
    seed: 5,
    captionExtension: ".txt",
  })
  const losses: Array<number> = []
  const emit = (event: TrainRunEvent) => {
    if (event.type === "step") losses.push(event.loss)
  }
  await Effect.runPromise(
    Effect.scoped(train(config, { emit, stopRequested: () => false })).pipe(Effect.provide(layer)),
  )
  return losses
}

describe("the same run on every backend", () => {
  it("gives the same loss curve on the reference executor, ONNX Runtime and WebGPU", async () => {
    const reference = await lossCurve("reference", Reference.layer)
    expect(reference).toHaveLength(6)
    const onnx = await lossCurve("onnx", onnxLayer)
    for (const [i, loss] of onnx.entries())
      expect(Math.abs(loss - reference[i]!)).toBeLessThan(1e-4 * reference[i]! + 1e-5)
    const webgpu = await Effect.runPromise(
      Effect.promise(() => lossCurve("webgpu", WebGpu.layer())).pipe(Effect.exit),
    )
    if (webgpu._tag === "Failure") {
      if (backendRequired("webgpu")) throw new Error(`WebGPU failed: ${String(webgpu.cause)}`)
      console.warn(`WebGPU part skipped (no adapter here): ${String(webgpu.cause).split("\n")[0]}`)
      return
    }
    for (const [i, loss] of webgpu.value.entries())
      expect(Math.abs(loss - reference[i]!)).toBeLessThan(1e-3 * reference[i]! + 1e-4)
  }, 300_000)
})
