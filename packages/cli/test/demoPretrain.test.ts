import { architectureManifest } from "@danlu/core"
import { describe, expect, it } from "vitest"
import { captionFollowing, previewPrompts } from "../src/demo/pretrain/captionFollowing.js"
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
