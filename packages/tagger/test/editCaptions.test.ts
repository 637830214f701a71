import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  backupFileName,
  dedupe,
  describeChange,
  editCaptions,
  moveToFront,
  promise,
  pruneConceptTags,
  removeTags,
  replaceTag,
  tagFrequency,
  undoCaptionChanges,
} from "../src/index.js"
import { listTree, solidPng, tempDir, writeFileIn } from "./fixtures.js"

/** A two-concept dataset: a pink-haired character and a dog, kohya repeats-folder style. */
const dataset = async () => {
  const dir = await tempDir()
  const png = await solidPng(2, [200, 100, 150])
  const captions: Record<string, string> = {
    "10_ayu/1.txt": "ayu, 1girl, pink hair, smile, school uniform",
    "10_ayu/2.txt": "1girl, pink hair, long hair",
    "10_ayu/3.txt": "1girl, pink_hair, smile, outdoors",
    "10_ayu/4.txt": "1girl, blue hair",
    "5_dog/1.txt": "dog, outdoors, grass",
    "5_dog/2.txt": "dog, indoors",
  }
  for (const [name, text] of Object.entries(captions)) {
    await writeFileIn(dir, name, text)
    await writeFileIn(dir, name.replace(".txt", ".png"), png)
  }
  await writeFileIn(dir, "5_dog/3.png", png)
  return dir
}

const read = (dir: string, name: string) => readFile(join(dir, name), "utf8")
const snapshot = async (dir: string) => {
  const files = (await listTree(dir)).filter((f) => f.endsWith(".txt"))
  return Object.fromEntries(await Promise.all(files.map(async (f) => [f, await read(dir, f)] as const)))
}

describe("tag frequency", () => {
  it("counts each tag once per caption, per concept and in total", async () => {
    const dir = await dataset()
    const report = await Effect.runPromise(tagFrequency(dir))
    expect(report.concepts.map((c) => [c.concept, c.images, c.captioned])).toEqual([
      ["10_ayu", 4, 4],
      ["5_dog", 3, 2],
    ])
    const ayu = report.concepts[0]!
    expect(ayu.tags.slice(0, 3)).toEqual([
      { tag: "1girl", count: 4, share: 1 },
      { tag: "pink hair", count: 3, share: 0.75 },
      { tag: "smile", count: 2, share: 0.5 },
    ])
    expect(report.total.tags.find((t) => t.tag === "outdoors")).toEqual({
      tag: "outdoors",
      count: 2,
      share: 2 / 6,
    })
    expect(report.total).toMatchObject({ concept: "total", images: 7, captioned: 6 })
  })
})

describe("editing captions over a folder", () => {
  it("shows the diff on a dry run and writes nothing", async () => {
    const dir = await dataset()
    const before = await snapshot(dir)
    const report = await Effect.runPromise(
      editCaptions(dir, "tags replace", replaceTag("pink hair", "pink-hair"), { dryRun: true }),
    )
    expect(report).toMatchObject({ dryRun: true, captions: 6, uncaptioned: 1 })
    expect(report.changes.map((c) => [c.image.caption.slice(dir.length + 1), describeChange(c)])).toEqual([
      ["10_ayu/1.txt", "-pink hair, +pink-hair"],
      ["10_ayu/2.txt", "-pink hair, +pink-hair"],
      ["10_ayu/3.txt", "-pink_hair, +pink-hair"],
    ])
    expect(await snapshot(dir)).toEqual(before)
    expect(await listTree(dir)).not.toContain(backupFileName)
  })

  it("writes with one level of backup that undo restores", async () => {
    const dir = await dataset()
    const original = await snapshot(dir)
    await Effect.runPromise(editCaptions(dir, "tags remove smile", removeTags(["smile"])))
    const afterFirst = await snapshot(dir)
    expect(afterFirst["10_ayu/1.txt"]).toBe("ayu, 1girl, pink hair, school uniform")

    await Effect.runPromise(editCaptions(dir, "tags remove 1girl", removeTags(["1girl"])))
    expect(await read(dir, "10_ayu/4.txt")).toBe("blue hair")

    // One level: undo goes back to before the last write only.
    const undone = await Effect.runPromise(undoCaptionChanges(dir))
    expect(undone).toMatchObject({ command: "tags remove 1girl", restored: 4 })
    expect(await snapshot(dir)).toEqual(afterFirst)
    await expect(Effect.runPromise(undoCaptionChanges(dir))).rejects.toMatchObject({
      _tag: "NothingToUndo",
      message: expect.stringMatching(/^nothing to undo in /),
    })
    expect(original["10_ayu/1.txt"]).toBe("ayu, 1girl, pink hair, smile, school uniform")
  })

  it("reorders and dedupes, describing order-only changes", async () => {
    const dir = await dataset()
    await writeFileIn(dir, "10_ayu/4.txt", "blue hair, 1girl, blue_hair")
    await writeFileIn(dir, "5_dog/2.txt", "dog, indoors, dog")
    const dedupeReport = await promise.editCaptions(dir, "tags dedupe", dedupe)
    expect(dedupeReport.changes.map(describeChange)).toEqual(["-blue_hair", "duplicates removed"])
    const moved = await promise.editCaptions(dir, "tags move-to-front", moveToFront(["grass"]))
    expect(moved.changes.map(describeChange)).toEqual(["reordered: grass, dog, outdoors"])
  })

  it("does not follow a backup that points outside the folder", async () => {
    const dir = await dataset()
    await writeFileIn(
      dir,
      backupFileName,
      JSON.stringify({ version: 1, command: "x", createdAt: "", captions: { "../evil.txt": "x" } }),
    )
    await expect(Effect.runPromise(undoCaptionChanges(dir))).rejects.toMatchObject({
      message: expect.stringMatching(/names a file outside/),
    })
  })

  it("refuses a caption that is not UTF-8 instead of rewriting it garbled", async () => {
    const dir = await dataset()
    const latin1 = Uint8Array.from([...Buffer.from("1girl, caf"), 0xe9, ...Buffer.from(", smile")])
    await writeFileIn(dir, "10_ayu/2.txt", latin1)
    const failure = await Effect.runPromise(Effect.flip(editCaptions(dir, "tags add", dedupe)))
    expect(failure.message).toMatch(/10_ayu\/2\.txt is not UTF-8 text; save it as UTF-8/)
    expect(new Uint8Array(await readFile(join(dir, "10_ayu/2.txt")))).toEqual(latin1)
  })

  it("refuses a caption file over 1 MiB instead of loading it", async () => {
    const dir = await dataset()
    await writeFileIn(dir, "10_ayu/2.txt", "x".repeat(1024 * 1024 + 1))
    const failure = await Effect.runPromise(Effect.flip(editCaptions(dir, "tags add", dedupe)))
    expect(failure.message).toBe(
      `${join(dir, "10_ayu/2.txt")} is 1048577 bytes, more than a caption's 1 MiB limit: a caption is one line of tags or text`,
    )
  })
})

describe("prune: the less you tag a feature, the more the trigger word learns it", () => {
  it("lists each concept's tags at or above the share, leaving out the trigger word", async () => {
    const dir = await dataset()
    const before = await snapshot(dir)
    const report = await Effect.runPromise(pruneConceptTags(dir, { trigger: ["ayu"], minShare: 0.5 }))
    expect(report.candidates.map((c) => [c.concept, c.tags.map((t) => t.tag)])).toEqual([
      ["10_ayu", ["1girl", "pink hair", "smile"]],
      ["5_dog", ["dog", "outdoors", "grass", "indoors"]],
    ])
    expect(report.edit.changes).toEqual([])
    expect(await snapshot(dir)).toEqual(before)
  })

  it("removes the named tags, puts the trigger first everywhere and reports what changed", async () => {
    const dir = await dataset()
    const report = await Effect.runPromise(
      pruneConceptTags(join(dir, "10_ayu"), { trigger: ["ayu"], remove: ["pink hair"] }),
    )
    expect(report.removed).toEqual([{ concept: "10_ayu", tag: "pink hair", count: 3 }])
    expect(report.triggerPlaced).toBe(3)
    expect(await read(dir, "10_ayu/1.txt")).toBe("ayu, 1girl, smile, school uniform")
    expect(await read(dir, "10_ayu/3.txt")).toBe("ayu, 1girl, smile, outdoors")
    expect(await read(dir, "10_ayu/4.txt")).toBe("ayu, 1girl, blue hair")
    expect(await read(dir, "5_dog/1.txt")).toBe("dog, outdoors, grass")
    await Effect.runPromise(undoCaptionChanges(join(dir, "10_ayu")))
    expect(await read(dir, "10_ayu/4.txt")).toBe("1girl, blue hair")
  })

  it("--auto removes each concept's own frequent tags, except kept ones, and dry-runs", async () => {
    const dir = await dataset()
    const options = { trigger: ["ayu"], minShare: 0.7, auto: true, keep: ["1girl"] }
    const dry = await Effect.runPromise(pruneConceptTags(dir, { ...options, dryRun: true }))
    expect(dry.edit.dryRun).toBe(true)
    expect(await read(dir, "10_ayu/2.txt")).toBe("1girl, pink hair, long hair")
    const report = await Effect.runPromise(pruneConceptTags(dir, options))
    expect(report.edit.changes.length).toBe(dry.edit.changes.length)
    expect(await read(dir, "10_ayu/2.txt")).toBe("ayu, 1girl, long hair")
    // The dog concept's frequent tag (dog, 100 %) is pruned there, not in the other concept.
    expect(await read(dir, "5_dog/2.txt")).toBe("ayu, indoors")
  })

  it("needs a trigger word and a share within 0–100 %", async () => {
    const dir = await dataset()
    await expect(Effect.runPromise(pruneConceptTags(dir, { trigger: [" "] }))).rejects.toMatchObject({
      message: "prune needs the LoRA's trigger word",
      option: "trigger",
    })
    await expect(
      Effect.runPromise(pruneConceptTags(dir, { trigger: ["a"], minShare: 1.5 })),
    ).rejects.toMatchObject({
      message: expect.stringMatching(/between 0 and 100/),
    })
  })
})
