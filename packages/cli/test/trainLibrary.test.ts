import { mkdtemp, readdir } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer as onnxLayer } from "@danlu/backend-onnx"
import { resolveTrainConfig, type TrainConfig } from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { type TrainRunEvent, train } from "@danlu/dataset"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { writeCheckpoint, writeSquares } from "./trainFixtures.js"

let root = ""
let model = ""

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-train-"))
  model = join(root, "micro-sd1.safetensors")
  await writeCheckpoint(model)
  await writeSquares(join(root, "train"))
})

const config = (overrides: Partial<TrainConfig>): TrainConfig =>
  resolveTrainConfig({
    pretrainedModelNameOrPath: model,
    trainDataDir: join(root, "train"),
    outputDir: join(root, "out"),
    outputName: "sks",
    resolution: { width: 32, height: 32 },
    enableBucket: false,
    networkDim: 4,
    networkAlpha: 2,
    learningRate: 1e-3,
    trainBatchSize: 2,
    maxTrainEpochs: 2,
    saveEveryNEpochs: 1,
    seed: 1,
    captionExtension: ".txt",
    ...overrides,
  })

const runTrain = (c: TrainConfig) => {
  const events: Array<TrainRunEvent> = []
  return Effect.runPromise(
    Effect.scoped(train(c, { emit: (e) => events.push(e), stopRequested: () => false })).pipe(
      Effect.provide(onnxLayer),
    ),
  ).then((result) => ({ result, events }))
}

describe("train (library, ONNX Runtime)", () => {
  it("trains a LoRA from a kohya folder and writes kohya's files with metadata", async () => {
    const { result, events } = await runTrain(config({}))
    expect(result.interrupted).toBe(false)
    const files = (await readdir(join(root, "out"))).filter((f) => f.endsWith(".safetensors")).sort()
    expect(files).toEqual(["sks-000001.safetensors", "sks.safetensors"])
    const steps = events.filter((e) => e.type === "step")
    // 4 images × 5 repeats = 20 samples, batch 2 → 10 steps per epoch.
    expect(steps).toHaveLength(20)
    const file = await Effect.runPromise(Effect.scoped(openModelFile(join(root, "out", "sks.safetensors"))))
    expect(file.metadata.ss_network_dim).toBe("4")
    expect(file.metadata.ss_num_train_images).toBe("20")
    expect(file.metadata.ss_epoch).toBe("2")
    expect(file.metadata.ss_steps).toBe("20")
    expect(JSON.parse(file.metadata.ss_tag_frequency!)).toEqual({
      "5_sks square": { sks: 4, "red square": 4, "grey background": 4 },
    })
    expect(file.metadata.sshs_model_hash).toMatch(/^[0-9a-f]{64}$/)
    expect(
      file.tensors.some((t) => t.name.startsWith("lora_unet_") && t.name.endsWith(".lora_up.weight")),
    ).toBe(true)
    expect(file.tensors.some((t) => t.name.startsWith("lora_te_"))).toBe(true)
  }, 180_000)
})
