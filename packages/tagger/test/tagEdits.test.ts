import { describe, expect, it } from "vitest"
import {
  addTags,
  dedupe,
  mergeCaption,
  moveToFront,
  parseCaption,
  removeTags,
  replaceTag,
} from "../src/index.js"

const tags = ["1girl", "pink hair", "long_hair", "smile", "pink hair"]

describe("tag edits", () => {
  it("parses captions separated by commas or lines", () => {
    expect(parseCaption(" a,b ,\n c,, \r\nd ")).toEqual(["a", "b", "c", "d"])
  })

  it("dedupes, counting underscore and space forms as one tag", () => {
    expect(dedupe(["long hair", "a", "long_hair", "a"])).toEqual(["long hair", "a"])
  })

  it("adds missing tags at the end or the front", () => {
    expect(addTags(["smile", "solo"])(tags)).toEqual([...tags, "solo"])
    expect(addTags(["lora", "solo", "lora"], "front")(["a"])).toEqual(["lora", "solo", "a"])
  })

  it("removes every occurrence, in any written form", () => {
    expect(removeTags(["pink_hair", "long hair"])(tags)).toEqual(["1girl", "smile"])
  })

  it("replaces a whole tag, with several tags or with none", () => {
    expect(replaceTag("pink hair", "blue hair")(tags)).toEqual(["1girl", "blue hair", "long_hair", "smile"])
    expect(replaceTag("smile", "smile, open mouth")(tags)).toEqual([
      "1girl",
      "pink hair",
      "long_hair",
      "smile",
      "open mouth",
    ])
    expect(replaceTag("smile", "")(["smile", "a"])).toEqual(["a"])
    expect(replaceTag("pink", "blue")(["pink hair"])).toEqual(["pink hair"])
  })

  it("replaces by regular expression inside each tag, with groups, dropping emptied tags", () => {
    expect(replaceTag("^(\\w+) hair$", "$1-hair", { regex: true })(tags)).toEqual([
      "1girl",
      "pink-hair",
      "long_hair",
      "smile",
    ])
    expect(replaceTag("^smile$", "", { regex: true })(tags)).not.toContain("smile")
    expect(() => replaceTag("(", "x", { regex: true })).toThrow(/not a valid regular expression/)
  })

  it("moves named tags to the front in the given order, ignoring absent ones", () => {
    expect(moveToFront(["smile", "absent", "1girl"])(tags)).toEqual([
      "smile",
      "1girl",
      "pink hair",
      "long_hair",
      "pink hair",
    ])
  })

  it("merges an existing caption with predictions: trigger first, nothing twice", () => {
    expect(mergeCaption("a, b", ["lora", "b", "c"], ["lora"], "append")).toBe("lora, a, b, c")
    expect(mergeCaption("lora, a", ["lora", "c"], ["lora"], "append")).toBe("lora, a, c")
    expect(mergeCaption("a", ["lora", "c"], ["lora"], "overwrite")).toBe("lora, c")
    expect(mergeCaption(null, ["c"], [], "append")).toBe("c")
  })
})
