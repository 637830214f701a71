import { Effect } from "effect"
import sharp from "sharp"
import { describe, expect, it } from "vitest"
import {
  decodeImageRgb,
  decodeImageRgba,
  listImages,
  promise,
  readImageRgb,
  scanFolder,
} from "../src/index.js"
import { animatedWebp, gradient, solid, tempDir, writeFileIn } from "./fixtures.js"

describe("listImages", () => {
  it("lists trainable images, sorted, skipping other files and hidden ones", async () => {
    const root = await tempDir()
    const png = await gradient(8, 8).png().toBuffer()
    await writeFileIn(root, "b.png", png)
    await writeFileIn(root, "A.JPG", await gradient(8, 8).jpeg().toBuffer())
    await writeFileIn(root, "c.webp", await gradient(8, 8).webp().toBuffer())
    await writeFileIn(root, "a.txt", "1girl")
    await writeFileIn(root, "d.gif", await gradient(8, 8).gif().toBuffer())
    await writeFileIn(root, ".hidden.png", png)
    await writeFileIn(root, "sub/e.png", png)
    const flat = await Effect.runPromise(listImages(root))
    expect(flat.map((p) => p.slice(root.length + 1))).toEqual(["A.JPG", "b.png", "c.webp"])
    const deep = await Effect.runPromise(listImages(root, { recursive: true }))
    expect(deep.map((p) => p.slice(root.length + 1))).toEqual(["A.JPG", "b.png", "c.webp", "sub/e.png"])
    const listing = await Effect.runPromise(scanFolder(root))
    expect(listing.unsupportedImages.map((p) => p.slice(root.length + 1))).toEqual(["d.gif"])
    expect(listing.otherFiles.map((p) => p.slice(root.length + 1))).toEqual(["a.txt"])
  })

  it("fails with a DatasetError naming a missing folder", async () => {
    const error = await Effect.runPromise(Effect.flip(listImages("/no/such/danlu/folder")))
    expect(error._tag).toBe("DatasetError")
    expect(error.message).toContain("/no/such/danlu/folder")
  })
})

describe("decode", () => {
  it("flattens alpha onto white by default and onto a chosen colour", async () => {
    const png = await gradient(4, 2, 0, 4).png().toBuffer()
    const onWhite = await decodeImageRgb(png)
    expect(onWhite).toMatchObject({ width: 4, height: 2, channels: 3, hadAlpha: true })
    expect([...onWhite.data.slice(0, 3)]).toEqual([255, 255, 255])
    const onGrey = await decodeImageRgb(png, { r: 128, g: 128, b: 128 })
    expect([...onGrey.data.slice(0, 3)]).toEqual([128, 128, 128])
    const rgba = await decodeImageRgba(png)
    expect(rgba).toMatchObject({ channels: 4, hasAlpha: true })
    expect(rgba.data[3]).toBe(0)
  })

  it("applies EXIF rotation, converts CMYK and 16-bit to 8-bit sRGB, and takes the first frame", async () => {
    const rotated = await gradient(30, 20).jpeg().withMetadata({ orientation: 6 }).toBuffer()
    expect(await decodeImageRgb(rotated)).toMatchObject({ width: 20, height: 30 })
    const cmyk = await solid(6, 6, { r: 200, g: 10, b: 10 }).toColourspace("cmyk").jpeg().toBuffer()
    const fromCmyk = await decodeImageRgb(cmyk)
    expect(fromCmyk.data.length).toBe(6 * 6 * 3)
    expect(fromCmyk.data[0]).toBeGreaterThan(150)
    const sixteen = await solid(3, 3, { r: 200, g: 10, b: 10 }).toColourspace("rgb16").png().toBuffer()
    expect((await sharp(sixteen).metadata()).depth).toBe("ushort")
    expect([...(await decodeImageRgb(sixteen)).data.slice(0, 3)]).toEqual([200, 10, 10])
    const animated = await decodeImageRgba(await animatedWebp(8))
    expect(animated).toMatchObject({ width: 8, height: 8 })
    expect(animated.data[0]).toBe(255)
  })

  it("reports a corrupt file as a DatasetError with its path", async () => {
    const root = await tempDir()
    const path = await writeFileIn(root, "broken.png", "definitely not a png")
    const error = await Effect.runPromise(Effect.flip(readImageRgb(path)))
    expect(error).toMatchObject({ _tag: "DatasetError", path })
    expect(error.message).toMatch(/^cannot decode .*broken\.png: /)
  })
})

describe("promise API", () => {
  it("resolves with the Effect's value and rejects with its DatasetError", async () => {
    const root = await tempDir()
    await writeFileIn(root, "a.png", await gradient(4, 4).png().toBuffer())
    expect((await promise.listImages(root)).map((p) => p.slice(root.length + 1))).toEqual(["a.png"])
    expect(await promise.readImageRgb(`${root}/a.png`)).toMatchObject({ width: 4, height: 4, channels: 3 })
    await expect(promise.checkDataset(`${root}/missing`)).rejects.toMatchObject({ _tag: "DatasetError" })
  })
})
