import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer as onnx } from "@danlu/backend-onnx"
import { decodeImageRgb, type GridIndex, runXyzPromise } from "@danlu/dataset"
import { buildTinyImageEmbedder } from "@danlu/tagger/testing"
import sharp from "sharp"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"
import { writeTinyLora, writeTinyModel } from "./tinySd.js"

let dir: string
let model: string
let run: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-xyz-"))
  model = join(dir, "tiny.safetensors")
  run = join(dir, "run")
  await mkdir(run)
  await mkdir(join(dir, "train"))
  await writeTinyModel(model)
  await writeTinyLora(join(run, "my-lora-000001.safetensors"), { seed: 3 })
  await writeTinyLora(join(run, "my-lora.safetensors"), {
    seed: 4,
    extra: {
      ss_epoch: "2",
      "danlu.validation_loss": JSON.stringify([
        { epoch: 1, loss: 0.1 },
        { epoch: 2, loss: 0.2 },
      ]),
    },
  })
  const noise = Buffer.from(Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 97) % 256))
  await sharp(noise, { raw: { width: 16, height: 16, channels: 3 } })
    .png()
    .toFile(join(dir, "train", "a.png"))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const common = [
  "xyz",
  "--model",
  "tiny.safetensors",
  "--lora-dir",
  "run",
  "--name",
  "my-lora",
  "--prompt",
  "a cat",
  "--weights",
  "0.8",
  "--sampler",
  "Euler",
  "--steps",
  "2",
  "--width",
  "16",
  "--height",
  "16",
  "--backend",
  "onnxruntime",
]
const inDir = (args: ReadonlyArray<string>) =>
  args.map((arg, i) => (args[i - 1] === "--model" || args[i - 1] === "--lora-dir" ? join(dir, arg) : arg))

describe("xyz", () => {
  it("draws epochs × weights once, grids and indexes them, reads them; a second run draws nothing", async () => {
    const progress: Array<string> = []
    const result = await runXyzPromise(
      {
        model,
        loraDir: run,
        name: "my-lora",
        prompt: "a cat",
        weights: [0.8],
        sampler: "Euler",
        steps: 2,
        width: 16,
        height: 16,
        trainDataDir: join(dir, "train"),
        onCell: ({ done, total, file }) => progress.push(`cell ${done}/${total} ${file.endsWith(".png")}`),
        onProgress: ({ step, steps }) => progress.push(`step ${step}/${steps}`),
      },
      onnx,
    )
    // Each picture's sampler steps, then its cell; the count ends at the total.
    expect(progress).toEqual([1, 2, 3].flatMap((cell) => ["step 1/2", "step 2/2", `cell ${cell}/3 true`]))
    // 2 epoch files × weights 0 and 0.8; the weight-0 cells of both epochs are one picture of the base model.
    expect(result).toMatchObject({ cells: 4, pictures: 3, drawn: 3, skipped: 0 })
    const out = join(run, "xyz-my-lora")
    expect((await readdir(join(out, "cells"))).length).toBe(3)
    // 16 px cells are drawn 8 times larger in the grid image; the cell PNGs keep their size.
    const grid = await decodeImageRgb(join(out, "grid.png"))
    expect(grid.width).toBeGreaterThanOrEqual(2 * 128)
    expect(grid.height).toBeGreaterThan(2 * 128)
    const cell = await decodeImageRgb(join(out, "cells", (await readdir(join(out, "cells")))[0]!))
    expect([cell.width, cell.height]).toEqual([16, 16])

    const index = JSON.parse(await readFile(join(out, "index.json"), "utf8")) as GridIndex
    expect(index.x.values).toEqual(["000001", "final"])
    expect(index.y.values).toEqual(["0", "0.8"])
    expect(index.sheets[0]!.cells).toHaveLength(4)
    const base = index.sheets[0]!.cells.filter((cell) => cell.y === 0)
    expect(new Set(base.map((cell) => cell.file)).size).toBe(1)
    // The tiny model's weights are random: every picture, the base model's too, is noise, and the
    // diagnosis says so and blames the sampler settings rather than the LoRA.
    expect(index.sheets[0]!.cells.every((cell) => cell.verdict?.endsWith("broken: noise"))).toBe(true)
    expect(result.summary.join("\n")).toContain("the base model alone (weight 0) gives broken images")
    const weighted = index.sheets[0]!.cells.find((cell) => cell.x === 1 && cell.y === 1)!
    expect(weighted.parameters).toContain("a cat <lora:my-lora:0.8>")
    expect(weighted.measures?.nearest).toBe("a.png")
    expect(weighted.measures?.broken).toBe("noise")
    expect(await readFile(join(out, "index.html"), "utf8")).toContain("<table>")
    expect(result.summary.join("\n")).toMatch(/validation loss is lowest at epoch 1/)
    expect(result.diagnosis?.settings.map((s) => [s.epoch, s.weight])).toEqual([
      [1, 0.8],
      [2, 0.8],
    ])

    const again = await runCli([...inDir(common), "--grid-scale", "1"])
    expect(again.error?.message).toBeUndefined()
    expect(again.output).toContain("4 cells: drew 0, 3 already made")
    expect((await readdir(join(out, "cells"))).length).toBe(3)
    // At scale 1 the grid is the two 16 px cells and a row-label band of at most two cells.
    expect((await decodeImageRgb(join(out, "grid.png"))).width).toBeLessThanOrEqual(4 * 16)
    expect((await runCli([...inDir(common), "--grid-scale", "0"])).error?.message).toBe(
      "--grid-scale takes a whole number of at least 1",
    )
  })

  it("--embedder reads a cell copied into the training images as memorised, through the ONNX model", async () => {
    const out = join(run, "xyz-my-lora")
    const index = JSON.parse(await readFile(join(out, "index.json"), "utf8")) as GridIndex
    const copied = index.sheets[0]!.cells.find((cell) => cell.x === 1 && cell.y === 1)!
    await mkdir(join(dir, "train-copy"))
    await copyFile(join(out, copied.file!), join(dir, "train-copy", "copy.png"))
    await copyFile(join(dir, "train", "a.png"), join(dir, "train-copy", "a.png"))
    await writeFile(join(dir, "vision.onnx"), buildTinyImageEmbedder({ size: 8, dim: 16 }).bytes)
    const result = await runCli([
      ...inDir(common),
      "--train-data-dir",
      join(dir, "train-copy"),
      "--embedder",
      join(dir, "vision.onnx"),
      "--embedder-mean",
      "0.485,0.456,0.406",
    ])
    expect(result.error?.message).toBeUndefined()
    expect(result.output).toContain("4 cells: drew 0, 3 already made")
    const read = JSON.parse(await readFile(join(out, "index.json"), "utf8")) as GridIndex & {
      diagnosis: { memorisationMeasure: string }
    }
    expect(read.diagnosis.memorisationMeasure).toBe("vision.onnx")
    const cell = read.sheets[0]!.cells.find((c) => c.x === 1 && c.y === 1)!
    expect(cell.measures?.nearest).toBe("copy.png")
    expect(cell.measures?.nearestDistance).toBeLessThan(1e-5)

    const wrong = await runCli([...inDir(common), "--embedder", join(dir, "missing.onnx")])
    expect(wrong.error?.message).toMatch(/image-embedding model not found: .*missing\.onnx/)
  })

  it("--min-training-gain sets the under-fit threshold the index records, and is refused in one line without training images", async () => {
    const out = join(run, "xyz-my-lora")
    const thresholdsOf = async (...extra: ReadonlyArray<string>) => {
      const result = await runCli([...inDir(common), "--train-data-dir", join(dir, "train"), ...extra])
      expect(result.error?.message).toBeUndefined()
      const index = JSON.parse(await readFile(join(out, "index.json"), "utf8")) as {
        diagnosis: { thresholds: { noTrainingGain: number } }
        sheets: ReadonlyArray<{ cells: ReadonlyArray<{ measures?: { trainingGain?: number } }> }>
      }
      expect(index.sheets[0]!.cells.some((cell) => cell.measures?.trainingGain !== undefined)).toBe(true)
      return index.diagnosis.thresholds.noTrainingGain
    }
    expect(await thresholdsOf()).toBe(0.1)
    expect(await thresholdsOf("--min-training-gain", "0")).toBe(0)
    expect((await runCli([...inDir(common), "--min-training-gain", "0.2"])).error?.message).toBe(
      "--min-training-gain needs --train-data-dir (the images it measures against)",
    )
    const outOfRange = await runCli([
      ...inDir(common),
      "--train-data-dir",
      join(dir, "train"),
      "--min-training-gain",
      "2",
    ])
    expect(outOfRange.error?.message).toBe("--min-training-gain takes a number from 0 to 1, e.g. 0.1")
  })

  it("--dry-run counts the cells and times a step without drawing", async () => {
    const result = await runCli([
      ...inDir(common),
      "--z-seeds",
      "5,6",
      "--out",
      join(dir, "dry"),
      "--dry-run",
    ])
    expect(result.error?.message).toBeUndefined()
    expect(result.output).toContain("8 cells, 6 pictures (0 already made, 6 to draw)")
    expect(result.output).toMatch(/one sampler step takes [\d.]+ s on onnxruntime: about \d+ s to draw/)
    await expect(readdir(join(dir, "dry"))).rejects.toThrow()
  })

  it("names what is missing in one line", async () => {
    const result = await runCli(inDir([...common.slice(0, 5), "--name", "nope", ...common.slice(7)]))
    expect(result.error?.message).toMatch(/^no LoRA files of "nope" in .*run/)
    const replaced = await runCli([...inDir(common), "--z-prompts", "dog,fox"])
    expect(replaced.error?.message).toBe('Prompt S/R did not find "dog" in the prompt')
    const twice = await runCli([...inDir(common), "--y", "epochs"])
    expect(twice.error?.message).toBe("the epochs axis is used twice")
  })
})
