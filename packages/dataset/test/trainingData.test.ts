import { join } from "node:path"
import { clipTokenizer, type ProgressEvent, tinyArchitecture, withProgress } from "@danlu/core"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { LatentEncoder } from "../src/index.js"
import { batchInputs } from "../src/train/batchInputs.js"
import {
  loadTrainingData,
  subsetFolder,
  type TrainingDatasetSpec,
  type TrainingSubset,
} from "../src/train/trainingData.js"
import { gradient, tempDir, writeFileIn } from "./fixtures.js"

/** A stand-in VAE: 8×8 average pooling of each channel. */
const pooling: LatentEncoder<never> = {
  vaeHash: "pool",
  encode: (pixels) =>
    Effect.sync(() => {
      const [channels, height, width] = pixels.shape
      const [h, w] = [height / 8, width / 8]
      const data = new Float32Array(channels * h * w)
      for (let c = 0; c < channels; c++)
        for (let y = 0; y < height; y++)
          for (let x = 0; x < width; x++)
            data[(c * h + Math.floor(y / 8)) * w + Math.floor(x / 8)]! +=
              pixels.data[(c * height + y) * width + x]! / 64
      return { shape: [channels, h, w], data }
    }),
}

const fixed32 = { mode: "fixed", size: { width: 32, height: 32 } } as const

const subset = async (
  imageDir: string,
  numRepeats: number,
  options: Partial<Omit<TrainingSubset, "concept">> = {},
): Promise<TrainingSubset> => ({
  concept: await Effect.runPromise(subsetFolder({ imageDir, numRepeats, classTokens: "tok", isReg: false })),
  captionExtension: ".txt",
  caption: {},
  flipAug: false,
  alphaMask: false,
  validationSplit: 0,
  ...options,
})

const load = (
  root: string,
  datasets: ReadonlyArray<TrainingDatasetSpec>,
  onProgress: (event: ProgressEvent) => void = () => {},
) =>
  Effect.runPromise(
    loadTrainingData({
      datasets,
      seed: 3,
      priorLossWeight: 1,
      cacheDir: join(root, "cache"),
      encoder: pooling,
    }).pipe(withProgress(onProgress)),
  )

describe("loadTrainingData", () => {
  it("reports each image's latents as the 'latents' task: encoded the first time, cached the next", async () => {
    const root = await tempDir()
    for (const name of ["a", "b", "c"])
      await writeFileIn(root, `2_x/${name}.png`, await gradient(32, 32, name.charCodeAt(0)).png().toBuffer())
    const spec = async () => [
      { sizing: fixed32, batchSize: 1, subsets: [await subset(join(root, "2_x"), 2)] },
    ]
    const runs: Array<Array<ProgressEvent>> = [[], []]
    for (const events of runs) await load(root, await spec(), (e) => events.push(e))
    for (const [run, events] of runs.entries()) {
      expect(events.map((e) => (e.type === "progress" ? [e.task, e.unit, e.done, e.total] : e))).toEqual(
        [0, 1, 2, 3].map((done) => ["latents", "image", done, 3]),
      )
      const encoded = events.slice(1).map((e) => (e.type === "progress" ? e.fields?.encoded : undefined))
      expect(encoded).toEqual([run === 0, run === 0, run === 0])
    }
  })

  it("serves SDXL's size conditioning per sample: original size, centre-crop origin, bucket", async () => {
    const root = await tempDir()
    await writeFileIn(root, "wide/a.png", await gradient(48, 32, 1).png().toBuffer())
    const data = await load(root, [
      { sizing: fixed32, batchSize: 1, subsets: [await subset(join(root, "wide"), 1)] },
    ])
    const batch = await Effect.runPromise(data.batch(1, 0))
    expect(batch.samples[0]!.size).toEqual({
      originalSize: { width: 48, height: 32 },
      crop: { left: 8, top: 0 },
      targetSize: { width: 32, height: 32 },
    })
    const tokenizer = await Effect.runPromise(clipTokenizer)
    const inputs = batchInputs(tinyArchitecture("sdxl"), tokenizer, false, batch)
    // kohya's order: original (h, w), crop (top, left), target (h, w).
    expect([...(inputs.sizes!.data as Float32Array)]).toEqual([32, 48, 0, 8, 32, 32])
    expect(batch.samples[0]!.caption).toBe("tok")
  })

  it("plans each dataset with its own batch size and shuffles their batches together; captions follow each subset", async () => {
    const root = await tempDir()
    for (let i = 0; i < 3; i++)
      await writeFileIn(root, `a/${i}.png`, await gradient(32, 32, i).png().toBuffer())
    for (let i = 0; i < 4; i++)
      await writeFileIn(
        root,
        `b/${i}.png`,
        await gradient(64, 64, 10 + i)
          .png()
          .toBuffer(),
      )
    const data = await load(root, [
      {
        sizing: fixed32,
        batchSize: 1,
        subsets: [await subset(join(root, "a"), 2, { caption: { prefix: "first" } })],
      },
      {
        sizing: { mode: "fixed", size: { width: 64, height: 64 } },
        batchSize: 3,
        subsets: [await subset(join(root, "b"), 1, { caption: { suffix: "second" } })],
      },
    ])
    // 3 × 2 samples at batch 1, and 4 samples at batch 3 (3 + 1).
    expect(data.batchesPerEpoch).toBe(8)
    expect(data.trainImageCount).toBe(10)
    const batches = await Effect.runPromise(Effect.forEach([0, 1, 2, 3, 4, 5, 6, 7], (i) => data.batch(1, i)))
    const small = batches.filter((b) => b.latentShape[1] === 4)
    const large = batches.filter((b) => b.latentShape[1] === 8)
    expect(small.map((b) => b.samples.length)).toEqual([1, 1, 1, 1, 1, 1])
    expect(large.map((b) => b.samples.length).sort()).toEqual([1, 3])
    expect(small.every((b) => b.samples[0]!.caption === "first tok")).toBe(true)
    expect(large.every((b) => b.samples.every((s) => s.caption === "tok second"))).toBe(true)
    // Interleaved: the large batches are not simply appended after the small ones.
    const order = batches.map((b) => b.latentShape[1])
    expect(order).not.toEqual([4, 4, 4, 4, 4, 4, 8, 8])
    expect(data.datasets.map((d) => d.trainImageCount)).toEqual([6, 4])
    expect(data.shapes.map((s) => `${s.batch}:${s.latentShape.join("x")}`).sort()).toEqual([
      "1:3x4x4",
      "1:3x8x8",
      "3:3x8x8",
    ])
  })

  it("alpha masks travel with their samples and are mirrored with flipped latents", async () => {
    const root = await tempDir()
    await writeFileIn(root, "cut/a.png", await gradient(32, 32, 5, 4).png().toBuffer())
    const data = await load(root, [
      {
        sizing: fixed32,
        batchSize: 1,
        subsets: [await subset(join(root, "cut"), 8, { alphaMask: true, flipAug: true })],
      },
    ])
    expect(data.masked).toBe(true)
    const image = data.images[0]!
    const mask = [...image.mask!.data]
    // The left half is transparent: latent columns 0–1 are 0, 2–3 are 1.
    expect(mask).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1])
    const mirrored = [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]
    const seen = new Set<string>()
    for (let i = 0; i < data.batchesPerEpoch; i++) {
      const sample = (await Effect.runPromise(data.batch(1, i))).samples[0]!
      const flipped = sample.latent === image.flipped!.data
      seen.add(String(flipped))
      expect([...sample.mask!]).toEqual(flipped ? mirrored : mask)
    }
    expect(seen).toEqual(new Set(["true", "false"]))
  })
})
