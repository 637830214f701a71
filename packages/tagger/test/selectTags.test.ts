import { describe, expect, it } from "vitest"
import {
  escapeForPrompt,
  formatTag,
  parseSelectedTags,
  scoreTags,
  selectTags,
  tagKey,
  underscoresToSpaces,
} from "../src/index.js"

const labels = parseSelectedTags(
  [
    "tag_id,name,category,count",
    "0,general,9,1",
    "1,sensitive,9,1",
    "2,questionable,9,1",
    "3,explicit,9,1",
    "4,long_hair,0,1",
    "5,pink_hair,0,1",
    "6,^_^,0,1",
    "7,hair_ribbon_(cloth),0,1",
    "8,smile,0,1",
    "9,hatsune_miku,4,1",
    "10,kaname_madoka,4,1",
  ].join("\n"),
)

//                    general sens  quest expl  long  pink  ^_^   ribbon smile miku  madoka
const probabilities = [0.2, 0.7, 0.05, 0.05, 0.9, 0.35, 0.6, 0.5, 0.34999, 0.85, 0.849]

describe("formatting", () => {
  it("replaces underscores but keeps kaomoji", () => {
    expect(underscoresToSpaces("long_hair")).toBe("long hair")
    expect(underscoresToSpaces("^_^")).toBe("^_^")
    expect(underscoresToSpaces(">_<")).toBe(">_<")
    expect(underscoresToSpaces("||_||")).toBe("||_||")
  })

  it("escapes parentheses and backslashes for A1111 prompts, and only when asked", () => {
    expect(escapeForPrompt("hair ribbon (cloth)")).toBe("hair ribbon \\(cloth\\)")
    expect(escapeForPrompt("a\\b")).toBe("a\\\\b")
    expect(formatTag("hair_ribbon_(cloth)")).toBe("hair ribbon (cloth)")
    expect(formatTag("hair_ribbon_(cloth)", { escapeParentheses: true })).toBe("hair ribbon \\(cloth\\)")
    expect(formatTag("long_hair", { replaceUnderscores: false })).toBe("long_hair")
  })

  it("compares tags in any of their written forms", () => {
    expect(tagKey("hair_ribbon_(cloth)")).toBe(tagKey(" hair ribbon \\(cloth\\) "))
  })
})

describe("selectTags", () => {
  it("uses 0.35 for general and 0.85 for character tags, inclusive, highest confidence first", () => {
    expect(selectTags(probabilities, labels)).toEqual([
      "long hair",
      "hatsune_miku".replace("_", " "),
      "^_^",
      "hair ribbon (cloth)",
      "pink hair",
    ])
  })

  it("applies custom thresholds per category", () => {
    const tags = selectTags(probabilities, labels, { generalThreshold: 0.55, characterThreshold: 0.8 })
    expect(tags).toEqual(["long hair", "hatsune miku", "kaname madoka", "^_^"])
  })

  it("adds the most likely rating only when asked, after the trigger words", () => {
    expect(selectTags(probabilities, labels)).not.toContain("sensitive")
    const tags = selectTags(probabilities, labels, { includeRating: true, triggerWords: ["he-tian-yi-lang"] })
    expect(tags.slice(0, 3)).toEqual(["he-tian-yi-lang", "sensitive", "long hair"])
  })

  it("puts trigger words first in the given order and drops predicted duplicates of them", () => {
    const tags = selectTags(probabilities, labels, { triggerWords: ["he-tian-yi-lang", "pink hair"] })
    expect(tags).toEqual([
      "he-tian-yi-lang",
      "pink hair",
      "long hair",
      "hatsune miku",
      "^_^",
      "hair ribbon (cloth)",
    ])
  })

  it("excludes tags written with underscores, spaces or escapes", () => {
    const tags = selectTags(probabilities, labels, {
      exclude: ["long_hair", "hair ribbon \\(cloth\\)", "^_^"],
    })
    expect(tags).toEqual(["hatsune miku", "pink hair"])
  })

  it("orders by CSV row when asked (ratings, general, then character)", () => {
    expect(selectTags(probabilities, labels, { order: "csv" })).toEqual([
      "long hair",
      "pink hair",
      "^_^",
      "hair ribbon (cloth)",
      "hatsune miku",
    ])
  })

  it("keeps the most confident tags under a maximum, then orders them", () => {
    expect(selectTags(probabilities, labels, { maxTags: 3, order: "csv" })).toEqual([
      "long hair",
      "^_^",
      "hatsune miku",
    ])
    expect(selectTags(probabilities, labels, { maxTags: 0, triggerWords: ["t"] })).toEqual(["t"])
  })

  it("escapes and keeps underscores together with the other options", () => {
    const tags = selectTags(probabilities, labels, {
      replaceUnderscores: false,
      escapeParentheses: true,
      maxTags: 4,
    })
    expect(tags).toEqual(["long_hair", "hatsune_miku", "^_^", "hair_ribbon_\\(cloth\\)"])
  })

  it("reports probabilities and the rating with scoreTags", () => {
    const { tags, rating } = scoreTags(probabilities, labels)
    expect(rating?.tag).toBe("sensitive")
    expect(tags[0]).toMatchObject({ tag: "long hair", probability: 0.9 })
  })
})
