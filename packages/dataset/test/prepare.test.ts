import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Fiber } from "effect"
import sharp from "sharp"
import { describe, expect, it } from "vitest"
import {
  manifestName,
  type ProgressEvent,
  prepareDataset,
  temporarySuffix,
  withProgress,
} from "../src/index.js"
import { gradient, mixedDataset, noUpscale, snapshot, tempDir, writeFileIn } from "./fixtures.js"

const filesUnder = async (root: string) =>
  (await readdir(root, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort()

describe("prepareDataset", () => {
  it("writes every decodable image at its size, with captions, and changes nothing in the source", async () => {
    const root = await tempDir()
    await mixedDataset(root)
    const before = await snapshot(root)
    const out = join(await tempDir(), "prepared")
    const progress: Array<ProgressEvent> = []
    const result = await Effect.runPromise(
      prepareDataset(root, {
        out,
        sizing: { mode: "fixed", size: { width: 512, height: 512 } },
        format: "png",
        upscale: true,
      }).pipe(withProgress((event) => progress.push(event))),
    )
    expect(await snapshot(root)).toEqual(before)
    expect(result.images).toHaveLength(11)
    expect(result.skipped.map((s) => s.path.slice(root.length + 1)).sort()).toEqual([
      "10_cat/corrupt.png",
      "10_cat/truncated.jpg",
    ])
    expect(result.upscaled.map((p) => p.slice(root.length + 1)).sort()).toEqual([
      "10_cat/a.png",
      "10_cat/alpha.png",
      "10_cat/dup.png",
      "10_cat/near.jpg",
      "10_cat/rotated.jpg",
    ])
    // One update per image after the start, counting up to every image (written or skipped).
    expect(progress.map((e) => (e.type === "progress" ? [e.task, e.unit, e.done, e.total] : e))).toEqual(
      Array.from({ length: 14 }, (_, done) => ["prepare", "image", done, 13]),
    )
    const files = await filesUnder(out)
    expect(files).toContain("10_cat/a.png")
    expect(files).toContain("10_cat/a.txt")
    expect(files).toContain("2-dog/x.png")
    expect(files).toContain(manifestName)
    expect(files.some((f) => f.endsWith(temporarySuffix))).toBe(false)
    for (const file of files.filter((f) => f.endsWith(".png"))) {
      const meta = await sharp(join(out, file)).metadata()
      expect([file, meta.width, meta.height, meta.hasAlpha, meta.exif, meta.space]).toEqual([
        file,
        512,
        512,
        false,
        undefined,
        "srgb",
      ])
    }
    expect(await readFile(join(out, "10_cat/a.txt"), "utf8")).toBe("1girl, smile, outdoors")
    // The alpha image's transparent left half becomes white.
    const { data } = await sharp(join(out, "10_cat/alpha.png")).raw().toBuffer({ resolveWithObject: true })
    expect([...data.subarray(0, 3)]).toEqual([255, 255, 255])
    const manifest = JSON.parse(await readFile(join(out, manifestName), "utf8"))
    expect(manifest.images.find((i: { file: string }) => i.file === "2-dog/x.png")).toMatchObject({
      concept: "2-dog",
      repeats: 2,
    })
  })

  it("skips images smaller than their bucket unless asked to upscale, and applies EXIF rotation", async () => {
    const root = await tempDir()
    await writeFileIn(root, "5_x/small.png", await gradient(200, 300).png().toBuffer())
    await writeFileIn(
      root,
      "5_x/rotated.jpg",
      await gradient(1200, 800).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
    )
    const out = await tempDir()
    const result = await Effect.runPromise(prepareDataset(root, { out, background: { r: 0, g: 0, b: 0 } }))
    expect(result.skipped.map((s) => s.reason)).toEqual([
      expect.stringMatching(/^smaller than its 384×640 target; upscale it properly first, or pass --upscale/),
    ])
    expect(result.images).toEqual([
      expect.objectContaining({ file: "5_x/rotated.jpg", bucket: { width: 384, height: 640 } }),
    ])
    const meta = await sharp(join(out, "5_x/rotated.jpg")).metadata()
    expect([meta.width, meta.height, meta.orientation]).toEqual([384, 640, undefined])
  })

  it("skips an image with a side under the bucket step without upscaling, before decoding it", async () => {
    const root = await tempDir()
    await writeFileIn(root, "5_x/wide.png", await gradient(960, 40).png().toBuffer())
    await writeFileIn(root, "5_x/ok.png", await gradient(320, 256).png().toBuffer())
    const result = await Effect.runPromise(prepareDataset(root, { out: await tempDir(), sizing: noUpscale }))
    expect(result.skipped).toEqual([
      {
        path: join(root, "5_x/wide.png"),
        reason:
          "too small for this bucket setting: its 960×40 has a side under the 64 px bucket step, and images are not upscaled",
      },
    ])
    expect(result.images.map((i) => i.bucket)).toEqual([{ width: 320, height: 256 }])
  })

  it("refuses an output inside the training folder or holding other files, and a folder without concepts", async () => {
    const root = await tempDir()
    await writeFileIn(root, "5_x/a.png", await gradient(64, 64).png().toBuffer())
    const inside = await Effect.runPromise(Effect.flip(prepareDataset(root, { out: join(root, "out") })))
    expect(inside.message).toMatch(
      /must lie outside the training folder .*\(danlu never writes into your files\)$/,
    )
    expect(inside).toMatchObject({ problem: "output-inside-source" })
    const someoneElses = await tempDir()
    await writeFileIn(someoneElses, "holiday.jpg", "not ours")
    const occupied = await Effect.runPromise(Effect.flip(prepareDataset(root, { out: someoneElses })))
    expect(occupied.message).toMatch(
      /already holds files that danlu did not write \(no danlu-dataset\.json\)$/,
    )
    expect(occupied).toMatchObject({ problem: "output-not-prepared" })
    expect(await readFile(join(someoneElses, "holiday.jpg"), "utf8")).toBe("not ours")
    const previous = await tempDir()
    await Effect.runPromise(prepareDataset(root, { out: previous, upscale: true }))
    const rerun = await Effect.runPromise(prepareDataset(root, { out: previous, upscale: true }))
    expect(rerun.images).toHaveLength(1)
    const leaf = await Effect.runPromise(
      Effect.flip(prepareDataset(join(root, "5_x"), { out: await tempDir() })),
    )
    expect(leaf.message).toMatch(/is a concept folder; run prepare on its parent folder/)
  })

  it("leaves no half-written file when interrupted", async () => {
    const root = await tempDir()
    for (let i = 0; i < 24; i++)
      await writeFileIn(root, `3_many/${i}.png`, await gradient(700, 700, i).png().toBuffer())
    const out = await tempDir()
    let started: () => void = () => {}
    const firstDone = new Promise<void>((resolve) => {
      started = resolve
    })
    const fiber = Effect.runFork(
      prepareDataset(root, { out, concurrency: 3 }).pipe(
        withProgress((event) => {
          if (event.type === "progress" && event.done === 2) started()
        }),
      ),
    )
    await firstDone
    await Effect.runPromise(Fiber.interrupt(fiber))
    const files = await filesUnder(out)
    expect(files.some((f) => f.endsWith(temporarySuffix))).toBe(false)
    expect(JSON.parse(await readFile(join(out, manifestName), "utf8"))).toMatchObject({ complete: false })
    const images = files.filter((f) => f !== manifestName)
    expect(images.length).toBeGreaterThanOrEqual(2)
    expect(images.length).toBeLessThan(24)
    for (const file of images) {
      const { data, info } = await sharp(join(out, file)).raw().toBuffer({ resolveWithObject: true })
      expect([info.width, info.height, data.length]).toEqual([512, 512, 512 * 512 * 3])
    }
    const finished = await Effect.runPromise(prepareDataset(root, { out }))
    expect(finished.images).toHaveLength(24)
    expect(JSON.parse(await readFile(join(out, manifestName), "utf8"))).toMatchObject({ complete: true })
  })

  it("keeps captions edited in the output since an earlier run unless told to replace them, with a backup", async () => {
    const root = await tempDir()
    await writeFileIn(root, "5_x/a.png", await gradient(64, 64).png().toBuffer())
    await writeFileIn(root, "5_x/a.txt", "x, from source")
    await writeFileIn(root, "5_x/b.png", await gradient(64, 64, 1).png().toBuffer())
    await writeFileIn(root, "5_x/b.txt", "y")
    const out = await tempDir()
    await Effect.runPromise(prepareDataset(root, { out, upscale: true }))
    await writeFileIn(out, "5_x/a.txt", "trigger, tagged in the copy")
    const refused = await Effect.runPromise(Effect.flip(prepareDataset(root, { out, upscale: true })))
    expect(refused.message).toMatch(
      /^1 caption in .* was changed since the earlier prepare .*5_x\/a\.txt; replacing it keeps the old one as <caption>\.bak$/,
    )
    expect(refused).toMatchObject({ problem: "captions-changed" })
    expect(await readFile(join(out, "5_x/a.txt"), "utf8")).toBe("trigger, tagged in the copy")
    await Effect.runPromise(prepareDataset(root, { out, upscale: true, replaceChangedCaptions: true }))
    expect(await readFile(join(out, "5_x/a.txt"), "utf8")).toBe("x, from source")
    expect(await readFile(join(out, "5_x/a.txt.bak"), "utf8")).toBe("trigger, tagged in the copy")
    expect(await filesUnder(out)).not.toContain("5_x/b.txt.bak")
  })
})
