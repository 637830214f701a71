import { layer } from "@danlu/backend-onnx"
import {
  architectureManifest,
  clipTokenizer,
  conditioningValues,
  hostTensor,
  type StepOptions,
  stepKey,
  syntheticCheckpoint,
  toHostTensor,
} from "@danlu/core"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { captionFollowing, previewPrompts } from "../src/demo/pretrain/captionFollowing.js"
import { colourSourceOf } from "../src/demo/pretrain/colourSource.js"
import { runFullTraining } from "../src/demo/pretrain/fullTraining.js"
import { demoArchitecture } from "../src/demo/pretrain/pretrain.js"
import { backgrounds, colours } from "../src/demo/pretrain/scenes.js"
import { unetTrainingGraph } from "../src/demo/pretrain/unetStage.js"

describe("the UNet stage of pretraining", () => {
  it("trains every UNet weight and leaves the text encoder frozen", () => {
    const trained = unetTrainingGraph(demoArchitecture, 1, 4).params.map((p) => p.attrs.name)
    const unetKeys = [...architectureManifest(demoArchitecture).keys()].filter((key) =>
      key.startsWith("model.diffusion_model."),
    )
    expect([...trained].sort()).toEqual(unetKeys.sort())
  })

  it("draws kohya's pyramid noise when asked: the same key then gives another loss", async () => {
    const initial = Object.fromEntries(
      Object.entries(syntheticCheckpoint(demoArchitecture, 3).tensors).map(([k, t]) => [k, toHostTensor(t)]),
    )
    const tokenizer = await Effect.runPromise(clipTokenizer)
    const inputs = {
      latents: hostTensor(
        "f32",
        [1, 4, 4, 4],
        Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)),
      ),
      loss_weights: hostTensor("f32", [1], Float32Array.of(1)),
      noise_key: hostTensor("u32", [4], stepKey(3, 1)),
      ...conditioningValues(tokenizer, demoArchitecture, ["large red circle, white background"]),
    }
    const firstLoss = (noise: Pick<StepOptions, "multiresNoiseIterations" | "multiresNoiseDiscount">) => {
      const unet = unetTrainingGraph(demoArchitecture, 1, 4, noise)
      let loss = Number.NaN
      return Effect.runPromise(
        runFullTraining({
          graph: unet.graph,
          initial: (spec) => initial[spec.name] ?? unet.optimizerState[spec.name]!,
          steps: 1,
          inputs: () => Effect.succeed(inputs),
          lr: () => 0,
          onStep: (_, value) =>
            Effect.sync(() => {
              loss = value
            }),
          keep: [],
        }).pipe(
          Effect.provide(layer),
          Effect.map(() => loss),
        ),
      )
    }
    const plain = await firstLoss({})
    const off = await firstLoss({ multiresNoiseIterations: 0, multiresNoiseDiscount: 0.8 })
    const pyramid = await firstLoss({ multiresNoiseIterations: 6, multiresNoiseDiscount: 0.8 })
    expect(Math.abs(off - plain)).toBeLessThan(1e-4 * plain)
    expect(Math.abs(pyramid - plain)).toBeGreaterThan(1e-2 * plain)
  }, 120_000)
})

describe("the caption-following measure", () => {
  const size = 16
  /** Pictures of one centre colour inside a border colour, channels first in [-1, 1]. */
  const pictures = (pairs: ReadonlyArray<readonly [string, string]>) => {
    const area = size * size
    const out = new Float32Array(pairs.length * 3 * area)
    pairs.forEach(([centre, border], p) => {
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          const inner = x >= 4 && x < 12 && y >= 4 && y < 12
          const hex = Number.parseInt((inner ? centre : border).slice(1), 16)
          for (let c = 0; c < 3; c++)
            out[p * 3 * area + c * area + y * size + x] = ((hex >> (16 - 8 * c)) & 255) / 127.5 - 1
        }
    })
    return out
  }
  const fill = (plain: string) => backgrounds.find((b) => b.plain === plain)!.fill

  it("counts a picture right when its centre and border are the colours its caption names", () => {
    const right = previewPrompts.map(
      (p) => [colours[p.shape ?? "black"], fill(p.background ?? "white")] as const,
    )
    const scores = captionFollowing(pictures(right), right.length, size)
    const shapes = previewPrompts.filter((p) => p.shape !== undefined).length
    const bgs = previewPrompts.filter((p) => p.background !== undefined).length
    expect(scores).toEqual({ shapes: { right: shapes, of: shapes }, backgrounds: { right: bgs, of: bgs } })
  })

  it("counts it wrong when the colours are another caption's", () => {
    const wrong = previewPrompts.map(() => [colours.brown, fill("green")] as const)
    const scores = captionFollowing(pictures(wrong), wrong.length, size)
    const greens = previewPrompts.filter((p) => p.background === "green").length
    expect(scores.shapes.right).toBe(0)
    expect(scores.backgrounds.right).toBe(greens)
  })
})

describe("where a model takes the background's colour from", () => {
  const truth = [
    [0, 1],
    [2, -1],
    [4, 3],
  ]
  const seeds = [
    [0.5, 0],
    [-0.5, 0.25],
  ]

  it("is all caption when every seed predicts the true colour", () => {
    const { captionSpread, seedShare } = colourSourceOf(
      truth.map((colour) => seeds.map(() => colour)),
      truth,
    )
    expect(captionSpread).toBeCloseTo(1, 12)
    expect(seedShare).toBeCloseTo(0, 12)
  })

  it("is all seed when the prediction ignores the caption", () => {
    const { captionSpread, seedShare } = colourSourceOf(
      truth.map(() => seeds),
      truth,
    )
    expect(captionSpread).toBeCloseTo(0, 12)
    expect(seedShare).toBeCloseTo(1, 12)
  })

  it("splits a mixed prediction by hand", () => {
    // caption means 0 and 1 against true colours 0 and 2: half the spread; seed means 1 and 0 over
    // predictions 0.5, -0.5, 1.5, 0.5 (variance 0.5): a share of 0.25 / 0.5
    const { captionSpread, seedShare } = colourSourceOf(
      [
        [[0.5], [-0.5]],
        [[1.5], [0.5]],
      ],
      [[0], [2]],
    )
    expect(captionSpread).toBeCloseTo(0.5, 12)
    expect(seedShare).toBeCloseTo(0.5, 12)
  })
})
