import { readdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { decodeImageRgb, imageSignature, structuralDistance } from "@danlu/dataset"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"
import { metadataOf, microTrainingSet } from "./trainFixtures.js"

let root = ""
let model = ""
let data = ""

beforeAll(async () => {
  ;({ root, model, data } = await microTrainingSet("danlu-train-cli-", 8))
})

const baseArgs = (out: string) => [
  "train",
  "--pretrained_model_name_or_path",
  model,
  "--train_data_dir",
  data,
  "--output_dir",
  out,
  "--output_name",
  "sks",
  "--resolution",
  "32",
  "--network_dim",
  "4",
  "--network_alpha",
  "2",
  "--train_batch_size",
  "4",
  "--caption_extension",
  ".txt",
  "--seed",
  "1",
  "--backend",
  "onnx",
]

describe("danlu train", () => {
  it("learns: the held-out loss falls across epochs; writes kohya's files, logs and the loss curve", async () => {
    const out = join(root, "learns")
    const result = await runCli([
      ...baseArgs(out),
      "--learning_rate",
      "2e-2",
      "--max_train_epochs",
      "4",
      "--save_every_n_epochs",
      "1",
      "--validation_split",
      "0.25",
      "--network_train_unet_only",
      "--logging_dir",
      join(out, "logs"),
    ])
    expect(result.error).toBeUndefined()
    const files = (await readdir(out)).filter((f) => !f.startsWith(".")).sort()
    expect(files).toEqual([
      "logs",
      "sks-000001.safetensors",
      "sks-000002.safetensors",
      "sks-000003.safetensors",
      "sks-loss.png",
      "sks.safetensors",
    ])
    const [run] = await readdir(join(out, "logs"))
    const logFiles = await readdir(join(out, "logs", run!))
    expect(logFiles.some((f) => f.startsWith("events.out.tfevents."))).toBe(true)
    expect(logFiles).toContain("train.jsonl")

    const metadata = await metadataOf(join(out, "sks.safetensors"))
    const losses = JSON.parse(metadata["danlu.validation_loss"]!) as Array<{ epoch: number; loss: number }>
    expect(losses.map((l) => l.epoch)).toEqual([1, 2, 3, 4])
    expect(losses.at(-1)!.loss).toBeLessThan(losses[0]!.loss * 0.9)
    expect(metadata.ss_num_epochs).toBe("4")
    expect(metadata.ss_network_dim).toBe("4")
    expect(result.output).toContain("trained: ")
  }, 240_000)

  it("the trained LoRA's effect in the grid grows with its weight", async () => {
    const out = join(root, "learns")
    const grid = join(root, "learns-grid")
    const result = await runCli([
      "xyz",
      "--model",
      model,
      "--lora-dir",
      out,
      "--name",
      "sks",
      "--prompt",
      "sks, red square, grey background",
      "--x",
      "weights",
      "--x-values",
      "0,0.4,0.8",
      "--y",
      "seeds",
      "--y-values",
      "1,2",
      "--steps",
      "8",
      "--width",
      "32",
      "--height",
      "32",
      "--out",
      grid,
      "--backend",
      "onnxruntime",
    ])
    expect(result.error).toBeUndefined()
    const index = JSON.parse(await readFile(join(grid, "index.json"), "utf8")) as {
      sheets: ReadonlyArray<{
        cells: ReadonlyArray<{ y: number; file: string; measures?: { weight?: number } }>
      }>
    }
    // Measured here rather than read from the diagnosis, which calls this micro model's pictures noise
    // and so gives them no effect strength.
    const cells = index.sheets[0]!.cells
    const signature = async (file: string) => imageSignature(await decodeImageRgb(join(grid, file)))
    const effects = (weight: number) =>
      Promise.all(
        cells
          .filter((cell) => cell.measures?.weight === weight)
          .map(async (cell) => {
            const base = cells.find((other) => other.y === cell.y && other.measures?.weight === 0)!
            return structuralDistance(await signature(cell.file), await signature(base.file))
          }),
      )
    const mean = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0) / values.length
    expect(mean(await effects(0.4))).toBeGreaterThan(0)
    expect(mean(await effects(0.8))).toBeGreaterThan(mean(await effects(0.4)))
  }, 240_000)

  it("reads kohya's TOML config file, command-line flags overriding it", async () => {
    const out = join(root, "toml")
    const toml = join(root, "config.toml")
    await writeFile(
      toml,
      [
        `pretrained_model_name_or_path = "${model}"`,
        `train_data_dir = "${data}"`,
        `output_dir = "${out}"`,
        `output_name = "from-toml"`,
        "resolution = 32",
        "network_dim = 4",
        "network_alpha = 2",
        "train_batch_size = 8",
        "max_train_epochs = 1",
        `caption_extension = ".txt"`,
        "xformers = true",
        "network_train_unet_only = true",
        `backend = "onnx"`,
      ].join("\n"),
    )
    const result = await runCli(["train", "--config_file", toml, "--output_name", "from-flag"])
    expect(result.error).toBeUndefined()
    expect(result.errorOutput).toMatch(/ignoring xformers/)
    expect((await readdir(out)).filter((f) => f.endsWith(".safetensors"))).toEqual(["from-flag.safetensors"])
  }, 240_000)

  it("draws kohya's sample prompts during training, and danlu generate draws the same image from its settings", async () => {
    const out = join(root, "samples")
    const prompts = join(root, "prompts.txt")
    await writeFile(prompts, "# one prompt\nsks square --n blurry --w 64 --h 64 --d 7 --s 4 --l 5\n")
    const result = await runCli([
      ...baseArgs(out),
      "--learning_rate",
      "2e-2",
      "--max_train_epochs",
      "2",
      "--save_every_n_epochs",
      "1",
      "--network_train_unet_only",
      "--sample_prompts",
      prompts,
      "--sample_every_n_epochs",
      "1",
      "--sample_sampler",
      "euler_a",
    ])
    expect(result.error).toBeUndefined()
    const samples = (await readdir(join(out, "sample"))).filter((f) => f.endsWith(".png")).sort()
    expect(samples).toHaveLength(2)
    expect(samples[0]).toMatch(/^sks_e000001_00_\d{14}_7\.png$/)
    expect(samples[1]).toMatch(/^sks_e000002_00_\d{14}_7\.png$/)
    const first = await sharp(join(out, "sample", samples[0]!))
      .raw()
      .toBuffer()
    const again = join(root, "samples-again")
    const generated = await runCli([
      "generate",
      "--model",
      model,
      "--lora-dir",
      out,
      "--prompt",
      "sks square <lora:sks-000001:1>",
      "--negative",
      "blurry",
      "--sampler",
      "Euler a",
      "--steps",
      "4",
      "--cfg",
      "5",
      "--seed",
      "7",
      "--width",
      "64",
      "--height",
      "64",
      "--out",
      again,
      "--backend",
      "onnxruntime",
    ])
    expect(generated.error).toBeUndefined()
    const [file] = await readdir(again)
    expect(await sharp(join(again, file!)).raw().toBuffer()).toEqual(first)
  }, 240_000)

  it("stops at a NaN loss, names the step and the likely cause, and keeps the files already written", async () => {
    const out = join(root, "nan")
    const result = await runCli([
      ...baseArgs(out),
      "--learning_rate",
      "1e30",
      "--max_train_epochs",
      "3",
      "--save_every_n_epochs",
      "1",
      "--network_train_unet_only",
    ])
    expect(result.error?._tag).toBe("TrainingDiverged")
    expect(result.error?.message).toMatch(
      /the loss became (NaN|Infinity|-Infinity) at step \d+ \(epoch \d\): the learning rate is likely too high/,
    )
  }, 240_000)

  it("refuses what it can check before the first step, in one line", async () => {
    const missing = await runCli([
      ...baseArgs(join(root, "x")).filter((a, i, all) => a !== data && all[i + 1] !== data),
    ])
    expect(missing.error?.message).toMatch(/train_data_dir/)
    const skip = await runCli([...baseArgs(join(root, "z")), "--max_train_steps", "1", "--clip_skip", "3"])
    expect(skip.error?._tag).toBe("ShapeError")
    expect(skip.error?.message).toMatch(/clip skip 3/)
    const warmup = await runCli([
      ...baseArgs(join(root, "y")),
      "--max_train_steps",
      "10",
      "--lr_warmup_steps",
      "20",
    ])
    expect(warmup.error?.message).toMatch(/warm/i)
  })
})
