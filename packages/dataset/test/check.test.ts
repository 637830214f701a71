import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { checkDataset, formatCheckReport, type ProgressEvent, promise, withProgress } from "../src/index.js"
import { gradient, mixedDataset, noUpscale, snapshot, tempDir, writeFileIn } from "./fixtures.js"

describe("checkDataset on a mixed folder", async () => {
  const root = await tempDir()
  await mixedDataset(root)
  const before = await snapshot(root)
  const report = await Effect.runPromise(checkDataset(root, { batchSize: 2 }))
  const names = (paths: ReadonlyArray<string>) => paths.map((p) => p.slice(root.length + 1)).sort()

  it("changes nothing on disk", async () => {
    expect(await snapshot(root)).toEqual(before)
  })

  it("counts images per concept and steps per epoch", () => {
    expect(
      report.concepts.map((c) => [c.folderName, c.repeats, c.images, c.imagesTimesRepeats, c.stepsPerEpoch]),
    ).toEqual([
      ["10_cat", 10, 10, 100, 50],
      ["2-dog", 2, 1, 2, 1],
    ])
    expect(report.totals.images).toBe(11)
    expect(report.totals.imagesTimesRepeats).toBe(102)
    const perBucket = report.buckets.reduce((sum, b) => {
      const samples = report.images.filter(
        (i) => i.bucket.width === b.bucket.width && i.bucket.height === b.bucket.height,
      )
      return sum + Math.ceil(samples.reduce((s, i) => s + (i.concept === "10_cat" ? 10 : 2), 0) / 2)
    }, 0)
    expect(report.totals.stepsPerEpoch).toBe(perBucket)
  })

  it("finds every kind of problem", () => {
    const p = report.problems
    expect(names(p.decodeFailures.map((f) => f.path))).toEqual(["10_cat/corrupt.png", "10_cat/truncated.jpg"])
    expect(p.decodeFailures.map((f) => f.reason).sort()).toEqual([
      "damaged or truncated image data",
      "not an image, or a format danlu cannot read",
    ])
    expect(names(p.animated)).toEqual(["10_cat/anim.webp"])
    expect(names(p.cmyk)).toEqual(["10_cat/cmyk.jpg"])
    expect(names(p.highBitDepth)).toEqual(["10_cat/sixteen.png"])
    expect(names(p.alpha)).toContain("10_cat/alpha.png")
    expect(names(p.exifRotated)).toEqual(["10_cat/rotated.jpg"])
    expect(names(p.belowResolution)).toContain("10_cat/alpha.png")
    expect(names(p.belowResolution)).not.toContain("10_cat/b.jpg")
    expect(p.exactDuplicates.map(names)).toEqual([["10_cat/a.png", "10_cat/dup.png"]])
    expect(p.nearDuplicates.map(names)).toEqual([["10_cat/a.png", "10_cat/dup.png", "10_cat/near.jpg"]])
    expect(report.formats).toEqual({ png: 5, jpeg: 4, webp: 2 })
  })

  it("lists skipped files with reasons", () => {
    const skipped = Object.fromEntries(report.skipped.map((s) => [s.path.slice(root.length + 1), s.reason]))
    expect(skipped.cats).toMatch(/folder ignored: not named <repeats>_<name>/)
    expect(skipped["10_cat/d.gif"]).toBe("not PNG/JPG/WebP")
    expect(skipped["10_cat/sub/e.png"]).toMatch(/sub-folder/)
  })

  it("puts rotated images in the bucket of their upright size", () => {
    const rotated = report.images.find((i) => i.path.endsWith("rotated.jpg"))!
    expect(rotated).toMatchObject({ width: 480, height: 640, bucket: { width: 448, height: 576 } })
  })

  it("reports caption coverage, the other extension and top tags", () => {
    expect(report.captions.captioned).toBe(2)
    expect(report.captions.otherExtension).toEqual({ extension: ".caption", count: 1 })
    expect(report.captions.topTags[0]).toEqual({ tag: "1girl", count: 2 })
  })

  it("gives the guide's advice and a readable table", () => {
    const messages = report.advice.map((a) => a.message).join("\n")
    expect(messages).toMatch(/10_cat has only 10 images/)
    expect(messages).toMatch(/2-dog: danlu reads the guide's/)
    expect(messages).toMatch(/cannot be decoded/)
    expect(messages).toMatch(/pass --caption-extension \.caption/)
    const text = formatCheckReport(report)
    expect(text).toMatch(/10_cat\s+10\s+10\s+100\s+50/)
    expect(text).toContain("cannot decode (2)")
    expect(text).toContain("512×512")
  })

  it("reports each image read into Progress, and to the Promise API's onProgress", async () => {
    const events: Array<ProgressEvent> = []
    await Effect.runPromise(checkDataset(root).pipe(withProgress((e) => events.push(e))))
    const files = report.images.length + report.problems.decodeFailures.length
    expect(events.map((e) => (e.type === "progress" ? [e.task, e.unit, e.done, e.total] : e))).toEqual(
      Array.from({ length: files + 1 }, (_, done) => ["check", "image", done, files]),
    )
    const details = events.slice(1).map((e) => (e.type === "progress" ? e.detail : undefined))
    expect(new Set(details).size).toBe(files)
    expect(details).toContain("corrupt.png")
    const counts: Array<[number, number]> = []
    await promise.checkDataset(root, { onProgress: (done, total) => counts.push([done, total]) })
    expect(counts).toEqual(Array.from({ length: files + 1 }, (_, done) => [done, files]))
  })

  it("says to point at the parent when given a concept folder", async () => {
    const leaf = await Effect.runPromise(checkDataset(join(root, "10_cat")))
    expect(leaf.advice[0]?.message).toMatch(/looks like a concept folder itself: point danlu at its parent/)
  })
})

describe("checkDataset with regularisation images", () => {
  it("balances them to the training samples, as kohya does, and counts their steps", async () => {
    const root = await tempDir()
    const reg = await tempDir()
    for (let i = 0; i < 4; i++)
      await writeFileIn(root, `5_sks/${i}.png`, await gradient(512, 512, i).png().toBuffer())
    for (let i = 0; i < 3; i++)
      await writeFileIn(
        reg,
        `1_person/${i}.png`,
        await gradient(512, 512, 10 + i)
          .png()
          .toBuffer(),
      )
    const report = await Effect.runPromise(checkDataset(root, { regularizationRoot: reg, batchSize: 4 }))
    expect(report.concepts.map((c) => [c.folderName, c.isRegularization, c.imagesTimesRepeats])).toEqual([
      ["5_sks", false, 20],
      ["1_person", true, 3],
    ])
    expect(report.totals.imagesTimesRepeats).toBe(20)
    expect(report.totals.regularizationSamples).toBe(20)
    expect(report.totals.stepsPerEpoch).toBe(10)
    expect(report.captions.missing).toHaveLength(4)
  })
})

describe("checkDataset on captions", () => {
  it("reports a caption file with no image beside it, keeping kohya's face-crop fallback", async () => {
    const root = await tempDir()
    const png = await gradient(512, 512).png().toBuffer()
    await writeFileIn(root, "10_cat/a.png", png)
    await writeFileIn(root, "10_cat/a.txt", "cat")
    await writeFileIn(root, "10_cat/renamed.txt", "cat, sitting")
    await writeFileIn(root, "10_cat/face_1_2_3_4.png", png)
    await writeFileIn(root, "10_cat/face.txt", "cat, close-up")
    await writeFileIn(root, "10_cat/notes.md", "not a caption")
    await writeFileIn(root, "10_cat/big.png", png)
    await writeFileIn(root, "10_cat/big.txt", "cat, ".repeat(300_000))
    const report = await Effect.runPromise(checkDataset(root))
    expect(report.captions.orphans).toEqual([join(root, "10_cat/renamed.txt")])
    expect(report.advice.map((a) => a.message)).toContain(
      "1 caption file has no image beside it (a renamed or deleted image?)",
    )
    expect(report.advice.map((a) => a.message)).toContain(
      "1 caption file cannot be read; the first, big.txt: 1500000 bytes, more than a caption's 1 MiB limit: a caption is one line of tags or text",
    )
    expect(formatCheckReport(report)).toContain("caption without an image (1):\n  10_cat/renamed.txt")
  })
})

describe("checkDataset without upscaling", () => {
  it("says an image with a side under the bucket step is too small for that setting", async () => {
    const root = await tempDir()
    await writeFileIn(root, "10_cat/wide.png", await gradient(960, 40).png().toBuffer())
    await writeFileIn(root, "10_cat/ok.png", await gradient(512, 512).png().toBuffer())
    const report = await Effect.runPromise(checkDataset(root, { sizing: noUpscale }))
    expect(report.problems.noBucket).toEqual([join(root, "10_cat/wide.png")])
    expect(report.images.map((i) => i.bucket)).toEqual([{ width: 512, height: 512 }])
    expect(report.buckets.every((b) => Number.isFinite(b.aspect))).toBe(true)
    expect(report.advice.map((a) => a.message)).toContain(
      "1 image has a side under the 64 px bucket step; without upscaling no bucket fits it, so it is left out",
    )
    const text = formatCheckReport(report)
    expect(text).toContain("too small for this bucket setting (1):\n  10_cat/wide.png")
    expect(text).not.toMatch(/×0|NaN/)
  })
})
