import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer as onnxLayer } from "@danlu/backend-onnx"
import {
  resolveTrainConfig,
  syntheticCheckpoint,
  type TrainConfig,
  tensorsInMemory,
  tinyArchitecture,
  writeSafetensors,
} from "@danlu/core"
import { openModelFile, writeFileAtomic } from "@danlu/core/node"
import { type TrainRunEvent, train } from "@danlu/dataset"
import { Effect } from "effect"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"

let root = ""
let model = ""

/** Four 32×32 images of a red square on grey, the concept, in a kohya `5_sks` folder with captions. */
const writeDataset = async (dir: string) => {
  const concept = join(dir, "5_sks square")
  await mkdir(concept, { recursive: true })
  for (let i = 0; i < 4; i++) {
    const size = 10 + 3 * i
    const square = await sharp({
      create: { width: size, height: size, channels: 3, background: { r: 220, g: 30, b: 30 } },
    })
      .png()
      .toBuffer()
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 128, g: 128, b: 128 } } })
      .composite([{ input: square, left: 4 + i, top: 6 }])
      .png()
      .toBuffer()
    await writeFile(join(concept, `img${i}.png`), png)
    await writeFile(join(concept, `img${i}.txt`), "sks, red square, grey background")
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-train-"))
  model = join(root, "tiny-sd1.safetensors")
  const { tensors, metadata } = syntheticCheckpoint(tinyArchitecture("sd1"), 3)
  await Effect.runPromise(
    writeFileAtomic(model, (sink) => writeSafetensors(sink, tensorsInMemory(tensors, metadata)), {
      existing: "refuse",
    }),
  )
  await writeDataset(join(root, "train"))
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
    Effect.scoped(train(c, { emit: (e) => { events.push(e); if (process.env.DANLU_TRACE) console.log(performance.now().toFixed(0), JSON.stringify(e).slice(0, 160)) }, stopRequested: () => false })).pipe(
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
    expect(file.tensors.some((t) => t.name.startsWith("lora_unet_") && t.name.endsWith(".lora_up.weight"))).toBe(true)
    expect(file.tensors.some((t) => t.name.startsWith("lora_te_"))).toBe(true)
  }, 180_000)
})
