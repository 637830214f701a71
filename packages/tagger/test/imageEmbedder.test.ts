import { diagnoseGrid, type ImageEmbedder, type RawImage } from "@danlu/dataset"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  clipImageMean,
  clipImageStd,
  defaultEmbedderCopyDistance,
  embedderInput,
  loadImageEmbedder,
} from "../src/index.js"
import { buildTinyImageEmbedder, onnxGraph } from "../src/testing/index.js"
import { tempDir, writeFileIn } from "./fixtures.js"

/** A smooth picture (a slow colour wave), not noise: the diagnosis, which reads roughness on 2×2 blocks at this size, would call noise broken. */
const picture = (size: number, seed: number): RawImage => ({
  width: size,
  height: size,
  channels: 3,
  data: Uint8Array.from({ length: size * size * 3 }, (_, i) => {
    const [x, y, c] = [Math.floor(i / 3) % size, Math.floor(i / 3 / size), i % 3]
    return Math.round(128 + 100 * Math.sin(0.1 * seed * x + 0.075 * (seed + c) * y + seed))
  }),
})

const image = (width: number, height: number, seed: number): RawImage => ({
  width,
  height,
  channels: 3,
  data: Uint8Array.from(onnxGraph.seededValues(width * height * 3, seed, 127.5), (v) =>
    Math.round(v + 127.5),
  ),
})

/** Runs `use` with the tiny embedder open (its session lives until `use` is done). */
const withEmbedder = async <A>(use: (embedder: ImageEmbedder) => Promise<A>, tokens?: number) => {
  const model = buildTinyImageEmbedder({ size: 8, dim: 16, ...(tokens === undefined ? {} : { tokens }) })
  const path = await writeFileIn(await tempDir(), "vision.onnx", model.bytes)
  const result = await Effect.runPromise(
    Effect.scoped(Effect.flatMap(loadImageEmbedder(path), (embedder) => Effect.promise(() => use(embedder)))),
  )
  return { model, result }
}

describe("the ONNX image embedder", () => {
  it("feeds CLIP-normalised RGB, planar, centre-cropped to the model's square", async () => {
    // A 16×8 picture: its shorter side is already 8, so the crop keeps columns 4–11 unresampled.
    const wide = image(16, 8, 5)
    const target = new Float32Array(3 * 8 * 8)
    await embedderInput(wide, { width: 8, height: 8 }, clipImageMean, clipImageStd, target)
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const v = wide.data[(y * 16 + x + 4) * 3 + c]!
          expect(target[c * 64 + y * 8 + x]).toBeCloseTo((v / 255 - clipImageMean[c]!) / clipImageStd[c]!, 5)
        }
      }
    }
  })

  it("gives the model's output for the normalised image, one vector per image in any batch", async () => {
    const pictures = [image(8, 8, 1), image(8, 8, 2), image(8, 8, 3)]
    const { model, result } = await withEmbedder(async (embedder) => ({
      all: await embedder.embed(pictures),
      alone: await embedder.embed([pictures[1]!]),
    }))
    const input = new Float32Array(3 * 64)
    for (const [i, picture] of pictures.entries()) {
      await embedderInput(picture, { width: 8, height: 8 }, clipImageMean, clipImageStd, input)
      for (let d = 0; d < model.dim; d++) {
        let expected = 0
        for (let f = 0; f < input.length; f++) expected += input[f]! * model.weights[f * model.dim + d]!
        expect(result.all[i]![d]).toBeCloseTo(expected, 4)
      }
    }
    expect(Array.from(result.alone[0]!)).toEqual(Array.from(result.all[1]!))
  })

  it("reads token 0 of a [batch, tokens, D] output (the class token)", async () => {
    const pictures = [image(8, 8, 4), image(8, 8, 5)]
    const { model, result } = await withEmbedder((embedder) => embedder.embed(pictures), 3)
    const input = new Float32Array(3 * 64)
    const width = 3 * model.dim
    for (const [i, picture] of pictures.entries()) {
      await embedderInput(picture, { width: 8, height: 8 }, clipImageMean, clipImageStd, input)
      expect(result[i]).toHaveLength(model.dim)
      for (let d = 0; d < model.dim; d++) {
        let expected = 0
        for (let f = 0; f < input.length; f++) expected += input[f]! * model.weights[f * width + d]!
        expect(result[i]![d]).toBeCloseTo(expected, 4)
      }
    }
  })

  it("makes the diagnosis read a cell equal to a training image as memorised", async () => {
    const [a, b, fresh] = [picture(32, 1), picture(32, 2), picture(32, 3)]
    const { result } = await withEmbedder((embedder) =>
      diagnoseGrid(
        [
          { epoch: 1, weight: 0, variant: "v", image: fresh },
          { epoch: 1, weight: 0.8, variant: "v", image: b },
          { epoch: 2, weight: 0.8, variant: "v", image: fresh },
        ],
        {
          training: [
            { id: "a.png", image: a },
            { id: "b.png", image: b },
          ],
          embedder,
        },
      ),
    )
    expect(result.memorisationMeasure).toBe("vision.onnx")
    const [, copy, other] = result.cells
    expect(copy!.nearest).toEqual({ id: "b.png", distance: expect.closeTo(0, 6) })
    expect(copy!.memorised).toBe(true)
    expect(copy!.verdict).toBe("over")
    expect(other!.memorised).toBe(false)
    expect(other!.nearest!.distance).toBeGreaterThan(2 * defaultEmbedderCopyDistance)
  })

  it("refuses a model whose input is not NCHW RGB", async () => {
    const { bytes } = (await import("../src/testing/index.js")).buildTinyWd14Model({ size: 4, tags: 3 })
    const path = await writeFileIn(await tempDir(), "tagger.onnx", bytes)
    const error = await Effect.runPromise(Effect.flip(Effect.scoped(loadImageEmbedder(path))))
    expect(error.message).toMatch(/expected \[batch, 3, height, width\] \(NCHW\)/)
  })
})
