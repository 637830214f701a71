import { clipTokenizer, conditioningInputNames, conditioningValues, hostTensor } from "@danlu/core"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { captionFollowing, previewPrompts } from "../src/demo/pretrain/captionFollowing.js"
import { compactVocabulary } from "../src/demo/pretrain/compactVocabulary.js"
import { demoArchitecture } from "../src/demo/pretrain/pretrain.js"
import { backgrounds, colours } from "../src/demo/pretrain/scenes.js"

describe("the compact token table of pretraining", () => {
  it("renumbers the captions' tokens and writes the trained rows back to their CLIP ids", async () => {
    const tokenizer = await Effect.runPromise(clipTokenizer)
    const captions = ["large red circle, white background", "red circle", ""]
    const values = captions.map((c) => conditioningValues(tokenizer, demoArchitecture, [c]))
    const vocabulary = compactVocabulary(demoArchitecture, values)
    const name = conditioningInputNames.tokens(0)
    const ids = [...new Set(values.flatMap((v) => [...(v[name]!.data as Int32Array)]))].sort((a, b) => a - b)
    // BOS, EOS (also the padding) and one token per word of the first caption.
    expect(ids).toHaveLength(2 + 6)
    expect(vocabulary.architecture.text[0]!.vocabSize).toBe(ids.length)
    const renumbered = vocabulary.renumber(values[1]!)[name]!.data as Int32Array
    const original = values[1]![name]!.data as Int32Array
    original.forEach((id, i) => {
      expect(ids[renumbered[i]!]).toBe(id)
    })

    const { vocabSize, width } = demoArchitecture.text[0]!
    const full = hostTensor(
      "f32",
      [vocabSize, width],
      Float32Array.from({ length: vocabSize * width }, (_, i) => i),
    )
    const compact = vocabulary.compact(full)
    expect(compact.shape).toEqual([ids.length, width])
    expect((compact.data as Float32Array)[width]).toBe(ids[1]! * width)
    const trained = hostTensor(
      "f32",
      compact.shape,
      (compact.data as Float32Array).map((v) => -v - 1),
    )
    const expanded = vocabulary.expand(full, trained).data as Float32Array
    const used = new Set(ids)
    for (let row = 0; row < vocabSize; row += used.has(row) ? 1 : 997) {
      const expected = used.has(row) ? -(row * width) - 1 : row * width
      expect(expanded[row * width]).toBe(expected)
    }
    for (const id of ids) expect(expanded[id * width + width - 1]).toBe(-(id * width + width - 1) - 1)
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
