import { describe, expect, it } from "vitest"
import {
  type CaptionOptions,
  createRng,
  maxCaptionBytes,
  processCaption,
  readCaption,
  tagFrequency,
} from "../src/index.js"
import { tempDir, writeFileIn } from "./fixtures.js"

const caption = "1girl, red hair, smile, outdoors, looking at viewer, blue sky, tree"
const run = (text: string, options: CaptionOptions, key: number, epoch = 1) =>
  processCaption(text, options, epoch, createRng(key))
const tags = (text: string) => text.split(", ")

describe("caption pipeline", () => {
  it("leaves the caption as it is without shuffle or dropout (prefix and suffix joined with a space)", () => {
    expect(run(caption, { prefix: "sks", suffix: "masterpiece" }, 1)).toBe(`sks ${caption} masterpiece`)
  })

  it("shuffles deterministically per key, keeping the first keepTokens tags in place", () => {
    const options = { shuffle: true, keepTokens: 1, prefix: "sks," }
    const a = run(caption, options, 5)
    expect(a).toBe(run(caption, options, 5))
    expect(tags(a)[0]).toBe("sks")
    expect(new Set(tags(a))).toEqual(new Set(["sks", ...tags(caption)]))
    const orders = new Set(Array.from({ length: 20 }, (_, key) => run(caption, options, key)))
    expect(orders.size).toBeGreaterThan(15)
    for (const order of orders) expect(order.startsWith("sks, ")).toBe(true)
  })

  it("keeps the part before keepTokensSeparator first and after a second one last", () => {
    const text = "sks, 1girl ||| red hair, smile, tree ||| best quality"
    for (let key = 0; key < 10; key++) {
      const out = tags(run(text, { shuffle: true, keepTokensSeparator: "|||" }, key))
      expect(out.slice(0, 2)).toEqual(["sks", "1girl"])
      expect(out.at(-1)).toBe("best quality")
      expect(new Set(out.slice(2, 5))).toEqual(new Set(["red hair", "smile", "tree"]))
    }
    expect(run(text, { keepTokensSeparator: "|||" }, 0)).toBe(
      "sks, 1girl, red hair, smile, tree, best quality",
    )
  })

  it("drops whole captions by rate and every n epochs, and single tags by rate", () => {
    expect(run(caption, { captionDropoutRate: 1 }, 1)).toBe("")
    expect(run(caption, { captionDropoutEveryNEpochs: 2 }, 1, 4)).toBe("")
    expect(run(caption, { captionDropoutEveryNEpochs: 2 }, 1, 3)).toBe(caption)
    expect(run(caption, { tagDropoutRate: 1, keepTokens: 2 }, 1)).toBe("1girl, red hair")
    const kept = Array.from(
      { length: 200 },
      (_, key) => tags(run(caption, { tagDropoutRate: 0.5 }, key)).length,
    )
    const mean = kept.reduce((a, b) => a + b, 0) / kept.length
    expect(mean).toBeGreaterThan(3)
    expect(mean).toBeLessThan(4)
  })

  it("turns the secondary separator into the tag separator after shuffling, so groups move together", () => {
    for (let key = 0; key < 10; key++) {
      const out = run("a;;;b, c, d", { shuffle: true, secondarySeparator: ";;;" }, key)
      expect(out.includes("a,b")).toBe(true)
    }
  })
})

describe("captions on disk", () => {
  it("reads the first line, reports missing, empty and non-UTF-8, and follows kohya's face-crop names", async () => {
    const root = await tempDir()
    await writeFileIn(root, "a.txt", "\uFEFF1girl, smile \nsecond line\n")
    await writeFileIn(root, "b.txt", "  \n")
    await writeFileIn(root, "c.txt", new Uint8Array([0xff, 0xfe, 0x00, 0xd8]))
    await writeFileIn(root, "face.txt", "face tags")
    expect(await readCaption(`${root}/a.png`, ".txt")).toMatchObject({ kind: "found", text: "1girl, smile" })
    expect(await readCaption(`${root}/b.png`, ".txt")).toMatchObject({ kind: "empty" })
    expect(await readCaption(`${root}/c.png`, ".txt")).toMatchObject({
      kind: "unreadable",
      reason: "not UTF-8 text",
    })
    expect(await readCaption(`${root}/d.png`, ".txt")).toEqual({ kind: "missing" })
    expect(await readCaption(`${root}/face_0_1_2_3.png`, ".txt")).toMatchObject({
      kind: "found",
      text: "face tags",
    })
    expect(await readCaption(`${root}/a.png`, ".caption")).toEqual({ kind: "missing" })
  })

  it("refuses a caption file over 1 MiB without reading it", async () => {
    const root = await tempDir()
    await writeFileIn(root, "big.txt", "a".repeat(maxCaptionBytes + 1))
    await writeFileIn(root, "edge.txt", "b".repeat(maxCaptionBytes))
    expect(maxCaptionBytes).toBe(1024 * 1024)
    expect(await readCaption(`${root}/big.png`, ".txt")).toEqual({
      kind: "unreadable",
      path: `${root}/big.txt`,
      reason: "1048577 bytes, more than a caption's 1 MiB limit: a caption is one line of tags or text",
    })
    expect(await readCaption(`${root}/edge.png`, ".txt")).toMatchObject({ kind: "found" })
  })

  it("counts each tag once per caption, most frequent first", () => {
    expect(tagFrequency(["a, b, a", "b, c", "b"])).toEqual([
      { tag: "b", count: 3 },
      { tag: "a", count: 1 },
      { tag: "c", count: 1 },
    ])
  })
})
