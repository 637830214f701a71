import { stat } from "node:fs/promises"
import { layer } from "@danlu/backend-onnx"
import {
  architectureManifest,
  architectureOf,
  detectCheckpoint,
  hostTensor,
  stepKey,
  syntheticCheckpoint,
  toHostTensor,
} from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { bundledBaseModelPath } from "../src/demo/bundledBaseModel.js"
import { runFullTraining } from "../src/demo/pretrain/fullTraining.js"
import { demoArchitecture } from "../src/demo/pretrain/pretrain.js"
import { svgPixels } from "../src/demo/pretrain/sceneImages.js"
import { colours, sceneAt, sceneCaption, sceneSvg } from "../src/demo/pretrain/scenes.js"
import { vaeTrainingGraph } from "../src/demo/pretrain/vaeStage.js"

describe("the procedural pretraining set", () => {
  it("is the same for the same seed and differs between seeds", () => {
    const a = Array.from({ length: 20 }, (_, i) => sceneSvg(sceneAt(7, i), 32))
    expect(Array.from({ length: 20 }, (_, i) => sceneSvg(sceneAt(7, i), 32))).toEqual(a)
    expect(Array.from({ length: 20 }, (_, i) => sceneSvg(sceneAt(8, i), 32))).not.toEqual(a)
  })

  it("names every shape it draws, in the colour it draws it", () => {
    for (let i = 0; i < 200; i++) {
      const scene = sceneAt(2026, i)
      const caption = sceneCaption(scene)
      const svg = sceneSvg(scene, 32)
      for (const shape of scene.shapes) {
        expect(caption).toContain(`${shape.colour} ${shape.shape}`)
        expect(svg).toContain(colours[shape.colour])
      }
      expect(caption).toMatch(/background|sky/)
    }
  })
})

describe("the bundled base model", () => {
  it("is an SD1 checkpoint in the LDM layout under 10 MB, its architecture in its metadata", async () => {
    const path = bundledBaseModelPath()
    expect((await stat(path)).size).toBeLessThanOrEqual(10 * 2 ** 20)
    const { architecture, detected, keys } = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const file = yield* openModelFile(path)
          const detected = yield* detectCheckpoint(file)
          const architecture = yield* architectureOf(file, detected)
          return { architecture, detected, keys: file.tensors.map((t) => t.name) }
        }),
      ),
    )
    expect(detected.family).toBe("sd1")
    expect(architecture.unet).toEqual(demoArchitecture.unet)
    expect(architecture.text).toEqual(demoArchitecture.text)
    expect(architecture.text[0]).toMatchObject({ vocabSize: 49408, maxPositions: 77 })
    expect(architecture.vae.scaleFactor).not.toBe(demoArchitecture.vae.scaleFactor)
    expect(keys.sort()).toEqual([...architectureManifest(architecture).keys()].sort())
    const prefixes = new Set(
      keys.map((k) =>
        k
          .split(".")
          .slice(0, k.startsWith("cond_stage") ? 2 : 1)
          .join("."),
      ),
    )
    expect([...prefixes].sort()).toEqual(["cond_stage_model.transformer", "first_stage_model", "model"])
  })
})

describe("full training of the VAE", () => {
  it("lowers the reconstruction loss of a few images in a few steps", async () => {
    const size = 8
    const architecture = {
      ...demoArchitecture,
      vae: { ...demoArchitecture.vae, channelMult: [1], numResBlocks: 1 },
    }
    const pixels = await Promise.all([0, 1].map((i) => svgPixels(sceneSvg(sceneAt(1, i), size), size)))
    const image = hostTensor("f32", [2, 3, size, size], Float32Array.from([...pixels[0]!, ...pixels[1]!]))
    const initial = Object.fromEntries(
      Object.entries(syntheticCheckpoint(architecture, 1).tensors).map(([k, t]) => [k, toHostTensor(t)]),
    )
    const vae = vaeTrainingGraph(architecture, 2, size)
    const losses: Array<number> = []
    await Effect.runPromise(
      runFullTraining({
        graph: vae.graph,
        initial: (spec) => initial[spec.name] ?? vae.optimizerState[spec.name]!,
        steps: 30,
        inputs: (step) => Effect.succeed({ image, noise_key: hostTensor("u32", [4], stepKey(1, step + 1)) }),
        lr: () => 3e-3,
        onStep: (_, loss) => Effect.sync(() => losses.push(loss)),
        keep: [],
      }).pipe(Effect.provide(layer)),
    )
    expect(losses).toHaveLength(30)
    const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
    expect(mean(losses.slice(-5))).toBeLessThan(0.7 * mean(losses.slice(0, 5)))
  }, 120_000)
})
