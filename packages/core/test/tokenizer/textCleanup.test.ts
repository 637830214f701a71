import { beforeAll, describe, expect, it } from "vitest"
import {
  type ClipTokenizer,
  cleanPromptText,
  fixTextLite,
  htmlUnescape,
  loadClipTokenizer,
} from "../../src/text/index.js"

describe("fixTextLite (ftfy's fixes that matter for prompts)", () => {
  it.each([
    [
      "fullwidth punctuation from CJK input methods",
      "masterpiece，best quality（high）：１．２",
      "masterpiece,best quality(high):1.2",
    ],
    ["the ideographic space", "a\u3000b", "a b"],
    ["curly quotes", "\u201chello\u201d \u2018x\u2019 \u02bcy", "\"hello\" 'x' 'y"],
    ["Latin ligatures", "\ufb01ne \ufb04e \u01c6", "fine ffle d\u017e"],
    ["decomposed accents (NFC)", "e\u0301", "\u00e9"],
    ["C1 controls read as windows-1252 (then uncurled)", "a\x85 \x93q\x94", 'a\u2026 "q"'],
    ["stray control characters and the byte-order mark", "\ufeffa\u0000b\u0007c\u200bd", "abc\u200bd"],
    ["terminal colour escapes", "\x1b[31mred\x1b[0m", "red"],
    ["line breaks", "a\r\nb\rc\u2028d", "a\nb\nc\nd"],
  ])("fixes %s", (_what, input, expected) => {
    expect(fixTextLite(input)).toBe(expected)
  })

  it("leaves ordinary text alone", () => {
    const text = "1girl, solo, (masterpiece:1.2), 東京, café, 😊"
    expect(fixTextLite(text)).toBe(text)
  })
})

describe("htmlUnescape (Python's html.unescape)", () => {
  it.each([
    ["&amp;", "&"],
    ["&amp;amp;", "&amp;"],
    ["&lt;tag&gt;", "<tag>"],
    ["&ampx", "&x"],
    ["&ampx;", "&x;"],
    ["&apos", "&apos"],
    ["&apos;", "'"],
    ["&#39;&#x27;&#X27", "'''"],
    ["&#128;&#x9f;", "\u20ac\u0178"],
    ["&#0;", "\ufffd"],
    ["&#xd800;&#x110000;&#99999999999;", "\ufffd\ufffd\ufffd"],
    ["a&#1;b&#xfffe;c", "abc"],
    ["&#128522;", "😊"],
    ["&unknown; & alone &", "&unknown; & alone &"],
  ])("%j -> %j", (input, expected) => {
    expect(htmlUnescape(input)).toBe(expected)
  })
})

describe("cleanPromptText", () => {
  it("unescapes twice, collapses Python whitespace, strips and lower-cases", () => {
    expect(cleanPromptText("  ÉCOLE &amp;amp;\u2003Zoë\u00a0\u00a0\n\tA\x1fB  ")).toBe("école & zoë ab")
  })
})

describe("clean-up seen through the tokenizer", () => {
  let tokenizer: ClipTokenizer
  beforeAll(async () => {
    tokenizer = await loadClipTokenizer()
  })

  it("tokenizes a fullwidth-comma prompt like its ASCII twin", () => {
    expect(tokenizer.encode("1girl，solo，smile")).toEqual(tokenizer.encode("1girl,solo,smile"))
  })

  it("tokenizes decomposed and composed accents alike", () => {
    expect(tokenizer.encode("fiance\u0301e")).toEqual(tokenizer.encode("fianc\u00e9e"))
  })
})
