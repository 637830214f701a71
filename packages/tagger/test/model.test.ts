import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { loadWd14Model, openWd14Tagger, promise, Wd14Tagger } from "../src/index.js"
import { buildTinyWd14Model, onnxGraph, selectedTagsCsv, tinyWd14Reference } from "../src/testing/index.js"
import { pngFromPixels, tempDir, writeFileIn } from "./fixtures.js"

const tagRows = (count: number) =>
  Array.from({ length: count }, (_, i) => ({ name: `tag_${i}`, category: (i < 2 ? 9 : 0) as 0 | 9 }))

const writeTagger = async (options: Parameters<typeof buildTinyWd14Model>[0] = {}, csvRows?: number) => {
  const dir = await tempDir()
  const model = buildTinyWd14Model(options)
  const modelPath = await writeFileIn(dir, "model.onnx", model.bytes)
  const tagsPath = await writeFileIn(
    dir,
    "selected_tags.csv",
    selectedTagsCsv(tagRows(csvRows ?? model.tags)),
  )
  return { dir, model, modelPath, tagsPath }
}

const failure = <A, E>(effect: Effect.Effect<A, E, never>) => Effect.runPromise(Effect.flip(effect))

describe("loading a WD1.4 model", () => {
  it("reads the input size, name and dynamic batch from the model", async () => {
    const { modelPath } = await writeTagger({ size: 6, tags: 5 })
    const model = await Effect.runPromise(Effect.scoped(loadWd14Model(modelPath)))
    expect(model).toMatchObject({
      size: 6,
      inputName: "input_1:0",
      fixedBatch: undefined,
      outputCount: 5,
      provider: "cpu",
    })
  })

  it("runs a batch and matches a plain TypeScript evaluation of the same model", async () => {
    const { modelPath, tagsPath, model } = await writeTagger({ size: 4, tags: 6 })
    const inputs = [0, 1, 2].map((seed) =>
      onnxGraph.seededValues(4 * 4 * 3, 100 + seed, 127.5).map((v) => v + 127.5),
    )
    const outputs = await Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(openWd14Tagger({ model: modelPath, tags: tagsPath }), (t) => t.predict(inputs)),
      ),
    )
    expect(outputs).toHaveLength(3)
    outputs.forEach((output, i) => {
      const expected = tinyWd14Reference(model, inputs[i]!)
      expect(output).toHaveLength(6)
      output.forEach((p, t) => {
        expect(p).toBeCloseTo(expected[t]!, 5)
      })
    })
  })

  it("is available as an Effect service through its layer", async () => {
    const { modelPath, tagsPath } = await writeTagger({ size: 5, tags: 4 })
    const program = Effect.gen(function* () {
      const tagger = yield* Wd14Tagger
      const [output] = yield* tagger.predict([new Float32Array(5 * 5 * 3).fill(128)])
      return { size: tagger.model.size, tags: tagger.labels.labels.length, outputs: output?.length }
    })
    const result = await Effect.runPromise(
      program.pipe(Effect.provide(Wd14Tagger.layer({ model: modelPath, tags: tagsPath })), Effect.scoped),
    )
    expect(result).toEqual({ size: 5, tags: 4, outputs: 4 })
  })

  it("feeds a fixed-batch (v2-style) model one image at a time", async () => {
    const { modelPath, tagsPath, model } = await writeTagger({ size: 4, tags: 3, fixedBatch: 1 })
    const inputs = [10, 200].map((v) => new Float32Array(48).fill(v))
    const outputs = await Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(openWd14Tagger({ model: modelPath, tags: tagsPath }), (t) => t.predict(inputs)),
      ),
    )
    outputs.forEach((output, i) => {
      expect(output[0]).toBeCloseTo(tinyWd14Reference(model, inputs[i]!)[0]!, 5)
    })
  })

  it("gives one line for a missing model or tag list", async () => {
    const { modelPath, tagsPath, dir } = await writeTagger()
    const noModel = await failure(
      Effect.scoped(openWd14Tagger({ model: `${dir}/nope.onnx`, tags: tagsPath })),
    )
    expect(noModel._tag).toBe("TaggerInputError")
    expect(noModel.message).toMatch(/^model not found: .*nope\.onnx/)
    expect(noModel).toMatchObject({ option: "model" })
    expect(noModel.message).not.toContain("--")
    const noCsv = await failure(Effect.scoped(openWd14Tagger({ model: modelPath, tags: `${dir}/nope.csv` })))
    expect(noCsv.message).toMatch(/^tag list not found: .*nope\.csv/)
    expect(noCsv).toMatchObject({ option: "tags" })
    expect(noCsv.message).not.toContain("--")
    expect(noCsv.message).not.toContain("\n")
  })

  it("refuses a tag list whose row count differs from the model's outputs", async () => {
    const { modelPath, tagsPath } = await writeTagger({ tags: 8 }, 9)
    const error = await failure(Effect.scoped(openWd14Tagger({ model: modelPath, tags: tagsPath })))
    expect(error._tag).toBe("TaggerModelError")
    expect(error.message).toMatch(/gives 8 outputs but .*selected_tags\.csv lists 9 tags/)
  })

  it("refuses a file that is not an ONNX model, and a model that is not NHWC", async () => {
    const dir = await tempDir()
    const junk = await writeFileIn(dir, "junk.onnx", "definitely not protobuf")
    const error = await failure(Effect.scoped(loadWd14Model(junk)))
    expect(error._tag).toBe("TaggerModelError")
    expect(error.message).toMatch(/^cannot load .*junk\.onnx as an ONNX model/)
    expect(error.message).not.toContain("\n")

    const nchw = onnxGraph.encodeModel({
      input: onnxGraph.floatValue("x", [1, 3, 8, 8]),
      output: onnxGraph.floatValue("y", [1, 3, 8, 8]),
      initializers: [],
      nodes: [onnxGraph.node("Identity", ["x"], ["y"])],
    })
    const nchwError = await failure(Effect.scoped(loadWd14Model(await writeFileIn(dir, "nchw.onnx", nchw))))
    expect(nchwError.message).toMatch(
      /is not a WD1.4 tagger: its input is \[1, 3, 8, 8\], expected \[batch, size, size, 3\]/,
    )
  })

  it("names an unknown execution provider in one line", async () => {
    const { modelPath } = await writeTagger()
    const error = await failure(Effect.scoped(loadWd14Model(modelPath, { provider: "quantum" })))
    expect(error._tag).toBe("ExecutionProviderUnavailable")
    expect(error.message).toMatch(
      /^execution provider "quantum" is not in this ONNX Runtime build \(it has: cpu[^)]*\)$/,
    )
  })

  it("either starts CUDA or says in one line why it can't", async () => {
    const { modelPath } = await writeTagger()
    const exit = await Effect.runPromise(
      Effect.exit(Effect.scoped(loadWd14Model(modelPath, { provider: "cuda" }))),
    )
    if (exit._tag === "Success") {
      expect(exit.value.provider).toBe("cuda")
    } else {
      const error = await failure(Effect.scoped(loadWd14Model(modelPath, { provider: "cuda" })))
      expect(error._tag).toBe("ExecutionProviderUnavailable")
      expect(error.message).toMatch(/^execution provider "cuda" could not start: /)
      expect(error.message).not.toContain("--provider")
      expect(error.message).not.toContain("\n")
    }
  })

  it("tags single images through the Promise API", async () => {
    const { modelPath, tagsPath, dir } = await writeTagger({
      size: 2,
      tags: 3,
      // tag_2 fires when the top-left pixel's red channel (BGR index 2) is bright
      weights: new Float32Array(12 * 3).map((_, i) => (i === 2 * 3 + 2 ? 20 : 0)),
      bias: new Float32Array([0, 0, -10]),
    })
    const tagger = await promise.openTagger({
      model: modelPath,
      tags: tagsPath,
      selection: { triggerWords: ["me"] },
    })
    try {
      const red = await writeFileIn(
        dir,
        "red.png",
        await pngFromPixels(2, 2, 3, [255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      )
      const blue = await writeFileIn(
        dir,
        "blue.png",
        await pngFromPixels(2, 2, 3, [0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      )
      expect(tagger.size).toBe(2)
      expect(await tagger.tagImage(red)).toEqual(["me", "tag 2"])
      expect(await tagger.tagImage(blue)).toEqual(["me"])
    } finally {
      await tagger.close()
    }
  })
})
