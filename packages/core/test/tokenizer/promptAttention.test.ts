import { describe, expect, it } from "vitest"
import { BREAK_WEIGHT, PromptSyntaxError, parsePromptAttention } from "../../src/text/index.js"

const parse = (prompt: string): Array<[string, number]> =>
  parsePromptAttention(prompt).map((piece) => [piece.text, piece.weight])

describe("parsePromptAttention", () => {
  // The doctests in A1111's modules/prompt_parser.py, float digits included.
  it.each<[string, Array<[string, number]>]>([
    ["normal text", [["normal text", 1]]],
    [
      "an (important) word",
      [
        ["an ", 1],
        ["important", 1.1],
        [" word", 1],
      ],
    ],
    ["(unbalanced", [["unbalanced", 1.1]]],
    ["\\(literal\\]", [["(literal]", 1]]],
    ["(unnecessary)(parens)", [["unnecessaryparens", 1.1]]],
    [
      "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
      [
        ["a ", 1],
        ["house", 1.5730000000000004],
        [" ", 1.1],
        ["on", 1],
        [" a ", 1.1],
        ["hill", 0.55],
        [", sun, ", 1.1],
        ["sky", 1.4641000000000006],
        [".", 1.1],
      ],
    ],
  ])("A1111 doctest %j", (prompt, expected) => {
    expect(parse(prompt)).toEqual(expected)
  })

  it("divides by 1.1 per square bracket and multiplies nested weights", () => {
    expect(parse("[a] [[b]] ((c:2))")).toEqual([
      ["a", 1 / 1.1],
      [" ", 1],
      ["b", (1 / 1.1) * (1 / 1.1)],
      [" ", 1],
      ["c", 2 * 1.1],
    ])
  })

  it("reads weights as Python's float() does", () => {
    expect(parse("(a:.5) (b:2.) (c:+1) (d:-1)")).toEqual([
      ["a", 0.5],
      [" ", 1],
      ["b", 2],
      [" c ", 1],
      ["d", -1],
    ])
  })

  it("keeps stray closers, colons and weights outside brackets as text", () => {
    expect(parse("a) b] c:d e:1.5)")).toEqual([["a) b] c:d e:1.5)", 1]])
  })

  it("drops a lone backslash and keeps an escaped one", () => {
    expect(parse("a\\b c\\\\d")).toEqual([["ab c\\d", 1]])
  })

  it("splits BREAK out with the whitespace around it", () => {
    expect(parse("a cat BREAK\na dog")).toEqual([
      ["a cat", 1],
      ["BREAK", BREAK_WEIGHT],
      ["a dog", 1],
    ])
  })

  it("only takes BREAK as a word of its own, in capitals", () => {
    expect(parse("BREAKFAST break unBREAK _BREAK éBREAK")).toEqual([
      ["BREAKFAST break unBREAK _BREAK éBREAK", 1],
    ])
  })

  it("turns a BREAK inside brackets into a weighted word, as A1111 does", () => {
    expect(parse("(a BREAK b)")).toEqual([
      ["a", 1.1],
      ["BREAK", -1.1],
      ["b", 1.1],
    ])
  })

  it("returns one empty piece for an empty prompt", () => {
    expect(parse("")).toEqual([["", 1]])
    expect(parse("()")).toEqual([["", 1]])
  })

  it("rejects a weight that is not a number with a plain message", () => {
    expect(() => parsePromptAttention("(a:1.2.3)")).toThrow(PromptSyntaxError)
    expect(() => parsePromptAttention("(a:.)")).toThrow(/"\." in ":\.\)" is not a number/)
  })
})
