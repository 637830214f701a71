import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { type ProgressEvent, withProgress } from "@danlu/dataset"
import { Effect, Fiber } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import {
  backupFileName,
  promise,
  type TagFolderOptions,
  tagFolder,
  undoCaptionChanges,
} from "../src/index.js"
import { colourTagger, expectedCaption } from "./colourTagger.js"
import { listTree, solidPng, tempDir, writeFileIn } from "./fixtures.js"

let tagger: { model: string; tags: string }
beforeAll(async () => {
  tagger = await colourTagger()
})

const colours = { red: [255, 0, 0], blue: [0, 0, 255], white: [255, 255, 255] } as const

const dataset = async (
  images: Record<string, keyof typeof colours>,
  captions: Record<string, string> = {},
) => {
  const dir = await tempDir()
  for (const [name, colour] of Object.entries(images))
    await writeFileIn(dir, name, await solidPng(8, colours[colour]))
  for (const [name, text] of Object.entries(captions)) await writeFileIn(dir, name, text)
  return dir
}

const read = (dir: string, name: string) => readFile(join(dir, name), "utf8")
const run = (folder: string, options: Partial<TagFolderOptions> = {}) =>
  Effect.runPromise(tagFolder({ folder, ...tagger, ...options }))

describe("tagFolder", () => {
  it("writes a kohya caption per image with thresholds, kaomoji and confidence order", async () => {
    const dir = await dataset({ "a.png": "red", "b.jpg": "blue", "c.webp": "white" })
    const report = await run(dir)
    expect(report).toMatchObject({
      images: 3,
      written: 3,
      skipped: 0,
      failed: [],
      batchSize: 4,
      backedUp: true,
    })
    expect(await read(dir, "a.txt")).toBe(expectedCaption.red)
    expect(await read(dir, "b.txt")).toBe(expectedCaption.blue)
    expect(await read(dir, "c.txt")).toBe(expectedCaption.white)
  })

  it("applies the trigger word, rating, CSV order and escaping options", async () => {
    const dir = await dataset({ "a.png": "red" })
    await run(dir, {
      triggerWords: ["he-tian-yi-lang"],
      includeRating: true,
      order: "csv",
      replaceUnderscores: false,
      exclude: ["red hair"],
    })
    expect(await read(dir, "a.txt")).toBe("he-tian-yi-lang, sensitive, ^_^, hatsune_miku")
  })

  it("skips captioned images by default, appends without duplicates, and overwrites", async () => {
    const dir = await dataset({ "a.png": "red", "b.png": "blue" }, { "a.txt": "^_^, my tag" })
    const skip = await run(dir, { triggerWords: ["lora"] })
    expect(skip).toMatchObject({ written: 1, skipped: 1 })
    expect(await read(dir, "a.txt")).toBe("^_^, my tag")
    expect(await read(dir, "b.txt")).toBe("lora, blue eyes, ^_^")

    await run(dir, { existing: "append", triggerWords: ["lora"] })
    expect(await read(dir, "a.txt")).toBe("lora, ^_^, my tag, red hair, hatsune miku")
    expect(await read(dir, "b.txt")).toBe("lora, blue eyes, ^_^")

    await run(dir, { existing: "overwrite" })
    expect(await read(dir, "a.txt")).toBe(expectedCaption.red)
  })

  it("keeps a backup when overwriting, which undo restores (new captions are removed)", async () => {
    const dir = await dataset({ "a.png": "red", "b.png": "blue" }, { "a.txt": "hand written" })
    await run(dir, { existing: "overwrite" })
    expect(await read(dir, "a.txt")).toBe(expectedCaption.red)
    const undone = await Effect.runPromise(undoCaptionChanges(dir))
    expect(undone).toMatchObject({ restored: 1, removed: 1 })
    expect(await read(dir, "a.txt")).toBe("hand written")
    expect(await listTree(dir)).toEqual(["a.png", "a.txt", "b.png"])
  })

  it("tags sub-folders only when recursive, and reads the caption extension option", async () => {
    const dir = await dataset({ "top.png": "white", "10_cat/a.png": "red" })
    await run(dir, { captionExtension: "caption" })
    expect(await listTree(dir)).toEqual([
      ".danlu-captions-backup.json",
      "10_cat/a.png",
      "top.caption",
      "top.png",
    ])
    await run(dir, { recursive: true, captionExtension: "caption" })
    expect(await read(dir, "10_cat/a.caption")).toBe(expectedCaption.red)
  })

  it("tags the concept folders of a kohya training root, as kohya reads them", async () => {
    const dir = await dataset({ "10_cat/a.png": "red", "3_dog/b.png": "blue", "10_cat/sub/c.png": "white" })
    await writeFileIn(dir, "notes/d.png", await solidPng(8, colours.white))
    const report = await run(dir)
    expect(report.images).toBe(2)
    expect(await read(dir, "10_cat/a.txt")).toBe(expectedCaption.red)
    expect(await read(dir, "3_dog/b.txt")).toBe(expectedCaption.blue)
    expect((await listTree(dir)).filter((f) => f.endsWith(".txt"))).toEqual(["10_cat/a.txt", "3_dog/b.txt"])
  })

  it("keeps going past an unreadable image and reports it", async () => {
    const dir = await dataset({ "a.png": "red" }, { "broken.png": "not an image" })
    const report = await run(dir)
    expect(report.written).toBe(1)
    expect(report.failed).toHaveLength(1)
    expect(report.failed[0]?.image).toContain("broken.png")
  })

  it("tags only the first of two images that would share a caption file", async () => {
    const dir = await dataset({ "a.jpg": "blue", "a.png": "red" })
    const report = await run(dir)
    expect(report.written).toBe(1)
    expect(report.failed[0]?.message).toMatch(
      /a\.png and .*a\.jpg would share the caption .*a\.txt; rename one/,
    )
    expect(await read(dir, "a.txt")).toBe(expectedCaption.blue)
  })

  it("reports progress for every image and works through the Promise API", async () => {
    const dir = await dataset({ "a.png": "red", "b.png": "blue", "c.png": "white" })
    const seen: Array<number> = []
    const report = await promise.tagFolder({
      folder: dir,
      ...tagger,
      batchSize: 2,
      onProgress: (p) => seen.push(p.done),
    })
    expect(report.written).toBe(3)
    expect(seen).toEqual([1, 2, 3])
  })

  it("reports into the Progress service: the start, then one update per image up to the total", async () => {
    const dir = await dataset({ "a.png": "red", "b.png": "blue", "c.png": "white" })
    const events: Array<ProgressEvent> = []
    await Effect.runPromise(
      tagFolder({ folder: dir, ...tagger, batchSize: 2 }).pipe(withProgress((e) => events.push(e))),
    )
    const updates = events.filter((e) => e.type === "progress")
    expect(updates.map((e) => [e.task, e.unit, e.done, e.total])).toEqual([
      ["tag", "image", 0, 3],
      ["tag", "image", 1, 3],
      ["tag", "image", 2, 3],
      ["tag", "image", 3, 3],
    ])
    expect(
      updates
        .slice(1)
        .map((e) => e.detail)
        .sort(),
    ).toEqual(["a.png", "b.png", "c.png"])
    expect(events).toHaveLength(updates.length)
  })

  it("rejects out-of-range thresholds and counts in one line", async () => {
    const dir = await dataset({ "a.png": "red" })
    await expect(run(dir, { generalThreshold: 35 })).rejects.toMatchObject({
      message: "the general threshold must be between 0 and 1, got 35",
    })
    await expect(run(dir, { batchSize: 0 })).rejects.toMatchObject({
      message: "the batch size must be a whole number ≥ 1, got 0",
    })
    await expect(run(dir, { maxTags: -1 })).rejects.toMatchObject({ _tag: "TaggerInputError" })
  })

  it("gives one line for an empty or missing folder", async () => {
    const empty = await tempDir()
    await expect(run(empty)).rejects.toMatchObject({
      _tag: "TaggerInputError",
      message: expect.stringMatching(/^no images/),
    })
    await expect(run(join(empty, "missing"))).rejects.toMatchObject({
      message: expect.stringMatching(/^folder not found/),
    })
  })

  it("leaves every caption either old or new when a run is interrupted mid-folder", async () => {
    const names = ["a", "b", "c", "d", "e", "f"]
    const images = Object.fromEntries(
      names.map((n, i) => [`${n}.png`, (i % 2 === 0 ? "red" : "blue") as "red" | "blue"]),
    )
    const old = Object.fromEntries(names.map((n) => [`${n}.txt`, `old caption of ${n}`]))
    const dir = await dataset(images, old)

    let fiber: Fiber.Fiber<unknown, unknown> | undefined
    let interrupted = false
    const program = tagFolder({
      folder: dir,
      ...tagger,
      existing: "overwrite",
      batchSize: 1,
      decodeConcurrency: 1,
    }).pipe(
      withProgress((event) => {
        if (event.type === "progress" && event.done === 2 && fiber !== undefined && !interrupted) {
          interrupted = true
          Effect.runFork(Fiber.interrupt(fiber))
        }
      }),
    )
    fiber = Effect.runFork(program)
    const exit = await Effect.runPromise(Fiber.await(fiber))
    expect(exit._tag).toBe("Failure")

    const results = await Promise.all(names.map((n) => read(dir, `${n}.txt`)))
    const isNew = results.map(
      (text, i) => text === (i % 2 === 0 ? expectedCaption.red : expectedCaption.blue),
    )
    const isOld = results.map((text, i) => text === `old caption of ${names[i]}`)
    isNew.forEach((fresh, i) => {
      expect(fresh || isOld[i]).toBe(true)
    })
    expect(isNew.filter(Boolean).length).toBeGreaterThanOrEqual(2)
    expect(isOld.filter(Boolean).length).toBeGreaterThanOrEqual(1)
    const files = await listTree(dir)
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([])
    expect(files).toContain(backupFileName)

    await Effect.runPromise(undoCaptionChanges(dir))
    for (const n of names) expect(await read(dir, `${n}.txt`)).toBe(`old caption of ${n}`)
  })
})
