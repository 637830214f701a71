import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer as onnxLayer } from "@danlu/backend-onnx"
import { resolveTrainConfig, type TrainConfig } from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { type TrainRunEvent, train } from "@danlu/dataset"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"
import { metadataOf, writeCheckpoint, writeCutouts, writeSquares } from "./trainFixtures.js"

let root = ""
let model = ""

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-train-data-"))
  model = join(root, "micro-sd1.safetensors")
  await writeCheckpoint(model)
  await writeSquares(join(root, "train"), 4, 3)
  await writeSquares(join(root, "reg"), 2, 1)
  await writeSquares(join(root, "more"), 4, 2)
  await writeCutouts(join(root, "transparent", "1_cut"), 2, 0)
  await writeCutouts(join(root, "opaque", "1_cut"), 2, 255)
})

const config = (overrides: Partial<TrainConfig>): TrainConfig =>
  resolveTrainConfig({
    pretrainedModelNameOrPath: model,
    outputDir: join(root, "out"),
    outputName: "cut",
    resolution: { width: 16, height: 16 },
    networkDim: 4,
    networkAlpha: 2,
    learningRate: 1e-3,
    trainBatchSize: 2,
    maxTrainEpochs: 1,
    seed: 1,
    networkTrainUnetOnly: true,
    ...overrides,
  })

const runEvents = async (c: TrainConfig) => {
  const events: Array<TrainRunEvent> = []
  await Effect.runPromise(
    Effect.scoped(train(c, { emit: (e) => events.push(e), stopRequested: () => false })).pipe(
      Effect.provide(onnxLayer),
    ),
  )
  return events
}

const stepLosses = async (c: TrainConfig) =>
  (await runEvents(c)).flatMap((e) => (e.type === "step" ? [e.loss] : []))

const failureOf = (c: TrainConfig) =>
  Effect.runPromise(
    Effect.scoped(train(c, { emit: () => {}, stopRequested: () => false })).pipe(
      Effect.provide(onnxLayer),
      Effect.flip,
    ),
  ) as Promise<{ message: string }>

describe("danlu train: data options", () => {
  it("trains from kohya's dataset_config: datasets with their own resolution and batch, subsets with repeats, class tokens and is_reg; writes ss_datasets", async () => {
    const out = join(root, "toml")
    const toml = join(root, "dataset.toml")
    await writeFile(
      toml,
      [
        "[general]",
        `caption_extension = ".none"`,
        "[[datasets]]",
        "resolution = 16",
        "batch_size = 2",
        "  [[datasets.subsets]]",
        `  image_dir = "${join(root, "train", "3_sks square")}"`,
        "  num_repeats = 3",
        `  class_tokens = "sks square"`,
        "  [[datasets.subsets]]",
        `  image_dir = "${join(root, "reg", "1_sks square")}"`,
        "  is_reg = true",
        `  class_tokens = "square"`,
        "[[datasets]]",
        "resolution = 32",
        "batch_size = 4",
        "  [[datasets.subsets]]",
        `  image_dir = "${join(root, "more", "2_sks square")}"`,
        "  num_repeats = 2",
        `  caption_extension = ".txt"`,
      ].join("\n"),
    )
    const result = await runCli([
      "train",
      "--pretrained_model_name_or_path",
      model,
      "--dataset_config",
      toml,
      "--output_dir",
      out,
      "--output_name",
      "multi",
      "--network_dim",
      "4",
      "--network_alpha",
      "2",
      "--learning_rate",
      "1e-3",
      "--max_train_epochs",
      "1",
      "--network_train_unet_only",
      "--seed",
      "1",
      "--backend",
      "onnx",
    ])
    expect(result.error).toBeUndefined()
    const metadata = await metadataOf(join(out, "multi.safetensors"))
    // Dataset 1: 4 images × 3 = 12 samples and 12 balanced regularisation samples at batch 2 → 12
    // batches; dataset 2: 4 images × 2 = 8 samples at batch 4 → 2 batches.
    expect(metadata.ss_num_batches_per_epoch).toBe("14")
    expect(metadata.ss_steps).toBe("14")
    expect(metadata.ss_num_train_images).toBe("20")
    expect(metadata.ss_num_reg_images).toBe("12")
    const datasets = JSON.parse(metadata.ss_datasets!)
    expect(datasets).toHaveLength(2)
    expect(datasets[0]).toMatchObject({
      is_dreambooth: true,
      batch_size_per_device: 2,
      num_train_images: 12,
      num_reg_images: 12,
      resolution: [16, 16],
      tag_frequency: { "3_sks square": { "sks square": 4 }, "1_sks square": { square: 2 } },
      bucket_info: { buckets: { "0": { resolution: [16, 16], count: 24 } } },
    })
    expect(datasets[0].subsets).toEqual([
      expect.objectContaining({
        image_dir: "3_sks square",
        num_repeats: 3,
        class_tokens: "sks square",
        is_reg: false,
        img_count: 4,
      }),
      expect.objectContaining({
        image_dir: "1_sks square",
        num_repeats: 1,
        class_tokens: "square",
        is_reg: true,
        img_count: 2,
      }),
    ])
    expect(datasets[1]).toMatchObject({
      batch_size_per_device: 4,
      num_train_images: 8,
      resolution: [32, 32],
      tag_frequency: { "2_sks square": { sks: 4, "red square": 4, "grey background": 4 } },
      bucket_info: { buckets: { "0": { resolution: [32, 32], count: 8 } } },
    })
    expect(JSON.parse(metadata.ss_dataset_dirs!)).toEqual({
      "3_sks square": { n_repeats: 3, img_count: 4 },
      "2_sks square": { n_repeats: 2, img_count: 4 },
    })
  }, 240_000)

  it("alpha_mask: a transparent image trains with zero loss; an opaque one exactly as without the mask", async () => {
    const transparent = await stepLosses(
      config({ trainDataDir: join(root, "transparent"), alphaMask: true, outputDir: join(root, "t") }),
    )
    expect(transparent).toEqual([0])
    const masked = await stepLosses(
      config({ trainDataDir: join(root, "opaque"), alphaMask: true, outputDir: join(root, "m") }),
    )
    const plain = await stepLosses(config({ trainDataDir: join(root, "opaque"), outputDir: join(root, "p") }))
    expect(plain[0]).toBeGreaterThan(0)
    expect(masked).toEqual(plain)
  }, 120_000)

  it("cache_text_encoder_outputs: each distinct caption encoded once, a UNet-only step fed the context; same losses", async () => {
    const base = {
      trainDataDir: join(root, "train"),
      captionExtension: ".txt",
      captionPrefix: "photo of",
      trainBatchSize: 4,
    }
    const events = await runEvents(
      config({ ...base, cacheTextEncoderOutputs: true, validationSplit: 0.25, outputDir: join(root, "c") }),
    )
    // The training caption with its prefix, and the held-out image's caption as it is.
    expect(events.find((e) => e.type === "captions")).toEqual({ type: "captions", encoded: 2 })
    expect(events.find((e) => e.type === "epoch")).toMatchObject({ validationLoss: expect.any(Number) })
    const cached = events.flatMap((e) => (e.type === "step" ? [e.loss] : []))
    const plain = await stepLosses(config({ ...base, validationSplit: 0.25, outputDir: join(root, "u") }))
    expect(cached).toHaveLength(3)
    for (const [i, loss] of cached.entries()) expect(loss).toBeCloseTo(plain[i]!, 4)
    expect(
      (await failureOf(config({ ...base, cacheTextEncoderOutputs: true, shuffleCaption: true }))).message,
    ).toBe("cache_text_encoder_outputs cannot be used with shuffle_caption: the captions change every step")
    expect(
      (await failureOf(config({ ...base, cacheTextEncoderOutputs: true, networkTrainUnetOnly: false })))
        .message,
    ).toMatch(/needs network_train_unet_only/)
  }, 120_000)

  it("module_dropout 1 leaves every LoRA out of the training step (ups stay zero); the file is unchanged in form", async () => {
    const base = { trainDataDir: join(root, "opaque"), networkTrainUnetOnly: false }
    const upsOf = async (out: string, networkArgs: TrainConfig["networkArgs"]) => {
      await stepLosses(config({ ...base, outputDir: join(root, out), networkArgs, networkDropout: 0.1 }))
      return Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const file = yield* openModelFile(join(root, out, "cut.safetensors"))
            const ups: Record<string, number> = {}
            for (const info of file.tensors)
              if (info.name.endsWith(".lora_up.weight")) {
                const data = new Float32Array((yield* file.read(info.name)).bytes.slice().buffer)
                ups[info.name] = Math.max(...data.map(Math.abs))
              }
            return { ups, metadata: file.metadata }
          }),
        ),
      )
    }
    const dropped = await upsOf("d", { moduleDropout: 1, rankDropout: 0.25 })
    const trained = await upsOf("n", { rankDropout: 0.25 })
    expect(Object.keys(dropped.ups).sort()).toEqual(Object.keys(trained.ups).sort())
    expect(Object.values(dropped.ups).every((v) => v === 0)).toBe(true)
    expect(Object.values(trained.ups).some((v) => v > 0)).toBe(true)
    expect(dropped.metadata.ss_network_dropout).toBe("0.1")
    // kohya writes str() of its argparse values: Python's booleans, None and float repr.
    const { ss_learning_rate, ss_unet_lr, ss_max_grad_norm, ss_shuffle_caption, ss_flip_aug } =
      dropped.metadata
    expect([ss_learning_rate, ss_unet_lr, ss_max_grad_norm, ss_shuffle_caption, ss_flip_aug]).toEqual([
      "0.001",
      "None",
      "1.0",
      "False",
      "False",
    ])
    expect(JSON.parse(dropped.metadata.ss_network_args!)).toEqual({
      rank_dropout: "0.25",
      module_dropout: "1",
    })
  }, 120_000)

  it("refuses masked_loss without alpha_mask, and random_crop / color_aug (latents are always cached)", async () => {
    const base = { trainDataDir: join(root, "opaque"), outputDir: join(root, "r") }
    expect((await failureOf(config({ ...base, maskedLoss: true }))).message).toMatch(
      /masked_loss needs a mask: set alpha_mask/,
    )
    expect((await failureOf(config({ ...base, randomCrop: true }))).message).toMatch(
      /^random_crop cannot be used: danlu always caches latents/,
    )
    expect((await failureOf(config({ ...base, colorAug: true }))).message).toMatch(
      /^color_aug cannot be used/,
    )
  }, 60_000)
})
