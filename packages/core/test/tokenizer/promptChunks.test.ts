import { beforeAll, describe, expect, it } from "vitest"
import {
  CLIP_COMMA,
  type ClipTokenizer,
  chunkPrompt,
  CLIP_END_OF_TEXT as END,
  loadClipTokenizer,
  type PromptChunk,
  CLIP_START_OF_TEXT as START,
} from "../../src/text/index.js"

const CAT = 2368
const DOG = 1929

let tokenizer: ClipTokenizer
beforeAll(async () => {
  tokenizer = await loadClipTokenizer()
})

/** The 75 prompt positions of a chunk, trailing padding removed. */
const body = (chunk: PromptChunk, pad = END): number[] => {
  const ids = Array.from(chunk.ids.subarray(1, 76))
  while (ids.length > 0 && ids[ids.length - 1] === pad) ids.pop()
  return ids
}

const repeat = (id: number, n: number): number[] => new Array<number>(n).fill(id)

describe("chunkPrompt", () => {
  it("checks the comma id against the vocabulary", () => {
    expect(tokenizer.encode(",")).toEqual([CLIP_COMMA])
    expect(tokenizer.encode("cat dog")).toEqual([CAT, DOG])
  })

  it("lays out a short SD1 prompt as start, tokens, end padding, with per-token weights", () => {
    const { chunks, tokenCount } = chunkPrompt(tokenizer, "a (cat:1.5), [dog]", { pad: "end-of-text" })
    expect(chunks).toHaveLength(1)
    expect(tokenCount).toBe(4)
    const [chunk] = chunks
    expect(Array.from(chunk!.ids.subarray(0, 8))).toEqual([START, 320, CAT, CLIP_COMMA, DOG, END, END, END])
    expect(chunk!.ids.subarray(5).every((id) => id === END)).toBe(true)
    expect(Array.from(chunk!.weights.subarray(0, 6))).toEqual([1, 1, 1.5, 1, Math.fround(1 / 1.1), 1])
    expect(chunk!.weights.subarray(5).every((w) => w === 1)).toBe(true)
  })

  it("tokenizes each weighted piece on its own, as A1111 does", () => {
    // "masterpiece" + "(s)" is two pre-tokens here, not the one word "masterpieces".
    const { chunks } = chunkPrompt(tokenizer, "masterpiece(s)", { pad: "end-of-text" })
    expect(body(chunks[0]!)).toEqual([...tokenizer.encode("masterpiece"), ...tokenizer.encode("s")])
    expect(body(chunks[0]!)).not.toEqual(tokenizer.encode("masterpieces"))
  })

  it("pads SD2-style chunks with 0 after the first end token", () => {
    const { chunks } = chunkPrompt(tokenizer, "a cat", { pad: "zero" })
    expect(Array.from(chunks[0]!.ids.subarray(0, 5))).toEqual([START, 320, CAT, END, 0])
    expect(chunks[0]!.ids.subarray(4).every((id) => id === 0)).toBe(true)
  })

  it("gives an empty prompt one chunk of start and end tokens", () => {
    const { chunks, tokenCount } = chunkPrompt(tokenizer, "", { pad: "end-of-text" })
    expect(chunks).toHaveLength(1)
    expect(tokenCount).toBe(0)
    expect(Array.from(chunks[0]!.ids.subarray(0, 3))).toEqual([START, END, END])
  })

  it("fits exactly 75 tokens in one chunk and starts a second at 76", () => {
    const full = chunkPrompt(tokenizer, "cat ".repeat(75), { pad: "end-of-text" })
    expect(full.chunks).toHaveLength(1)
    expect(full.tokenCount).toBe(75)
    expect(Array.from(full.chunks[0]!.ids)).toEqual([START, ...repeat(CAT, 75), END])
    const over = chunkPrompt(tokenizer, "cat ".repeat(76), { pad: "end-of-text" })
    expect(over.chunks).toHaveLength(2)
    expect(over.tokenCount).toBe(76)
    expect(body(over.chunks[1]!)).toEqual([CAT])
  })

  it("splits a 150-token prompt into two and a 225-token prompt into three full chunks", () => {
    for (const count of [150, 225]) {
      const { chunks, tokenCount } = chunkPrompt(tokenizer, "cat ".repeat(count), { pad: "end-of-text" })
      expect(chunks).toHaveLength(count / 75)
      expect(tokenCount).toBe(count)
      for (const chunk of chunks) expect(Array.from(chunk.ids)).toEqual([START, ...repeat(CAT, 75), END])
    }
  })

  it("moves the words after a comma within the last 20 tokens to the next chunk", () => {
    // 70 cats, a comma at position 70, 10 dogs: the chunk fills after 4 dogs, the comma is 5 back.
    const prompt = `${"cat ".repeat(70)}, ${"dog ".repeat(10)}`
    const { chunks, tokenCount } = chunkPrompt(tokenizer, prompt, { pad: "end-of-text" })
    expect(chunks).toHaveLength(2)
    expect(body(chunks[0]!)).toEqual([...repeat(CAT, 70), CLIP_COMMA])
    expect(body(chunks[1]!)).toEqual(repeat(DOG, 10))
    expect(tokenCount).toBe(85)
  })

  it("cuts hard when the last comma is more than 20 tokens back, or backtracking is off", () => {
    const prompt = `${"cat ".repeat(50)}, ${"dog ".repeat(40)}`
    const { chunks } = chunkPrompt(tokenizer, prompt, { pad: "end-of-text" })
    expect(body(chunks[0]!)).toEqual([...repeat(CAT, 50), CLIP_COMMA, ...repeat(DOG, 24)])
    expect(body(chunks[1]!)).toEqual(repeat(DOG, 16))
    const near = `${"cat ".repeat(70)}, ${"dog ".repeat(10)}`
    const off = chunkPrompt(tokenizer, near, { pad: "end-of-text", commaBacktrack: 0 })
    expect(body(off.chunks[0]!)).toEqual([...repeat(CAT, 70), CLIP_COMMA, ...repeat(DOG, 4)])
    expect(body(off.chunks[1]!)).toEqual(repeat(DOG, 6))
  })

  it("carries weights along when words move to the next chunk", () => {
    const prompt = `${"cat ".repeat(72)}, (dog dog dog dog:1.3)`
    const { chunks } = chunkPrompt(tokenizer, prompt, { pad: "end-of-text" })
    expect(body(chunks[0]!)).toEqual([...repeat(CAT, 72), CLIP_COMMA])
    expect(body(chunks[1]!)).toEqual(repeat(DOG, 4))
    expect(Array.from(chunks[1]!.weights.subarray(0, 6))).toEqual([1, ...repeat(Math.fround(1.3), 4), 1])
  })

  it("ends the chunk at BREAK", () => {
    const { chunks, tokenCount } = chunkPrompt(tokenizer, "a cat BREAK a dog", { pad: "zero" })
    expect(chunks).toHaveLength(2)
    expect(Array.from(chunks[0]!.ids.subarray(0, 5))).toEqual([START, 320, CAT, END, 0])
    expect(Array.from(chunks[1]!.ids.subarray(0, 5))).toEqual([START, 320, DOG, END, 0])
    expect(tokenCount).toBe(77)
  })

  it("reads the prompt as plain text when emphasis is off", () => {
    const { chunks } = chunkPrompt(tokenizer, "(cat:1.5) BREAK dog", { pad: "end-of-text", emphasis: false })
    expect(chunks).toHaveLength(1)
    expect(body(chunks[0]!)).toEqual(tokenizer.encode("(cat:1.5) BREAK dog"))
    expect(chunks[0]!.weights.every((w) => w === 1)).toBe(true)
  })
})
