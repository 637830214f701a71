import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { padToSquare, readWd14Input, resizeSquare, writeBgrFloat } from "../src/index.js"
import { pngFromPixels, tempDir, writeFileIn } from "./fixtures.js"

const prepare = async (png: Buffer, size: number) => {
  const path = await writeFileIn(await tempDir(), "image.png", png)
  return Effect.runPromise(readWd14Input(path, size))
}

/** The tensor's pixel (x, y) as [B, G, R]. */
const pixelAt = (tensor: Float32Array, size: number, x: number, y: number) => {
  const i = (y * size + x) * 3
  return [tensor[i], tensor[i + 1], tensor[i + 2]]
}

describe("WD1.4 preprocessing, pixel by pixel", () => {
  it("writes BGR floats 0–255 in NHWC order", async () => {
    // 2×2 RGB: red, green / blue, (10, 20, 30)
    const png = await pngFromPixels(2, 2, 3, [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
    const tensor = await prepare(png, 2)
    expect(Array.from(tensor)).toEqual([0, 0, 255, 0, 255, 0, 255, 0, 0, 30, 20, 10])
  })

  it("flattens alpha onto white", async () => {
    // 2×2 RGBA: transparent black, half-transparent red / opaque blue, opaque black
    const png = await pngFromPixels(2, 2, 4, [0, 0, 0, 0, 255, 0, 0, 128, 0, 0, 255, 255, 0, 0, 0, 255])
    const tensor = await prepare(png, 2)
    expect(pixelAt(tensor, 2, 0, 0)).toEqual([255, 255, 255])
    const [b, g, r] = pixelAt(tensor, 2, 1, 0)
    expect(r).toBe(255)
    // 255·(1 − 128/255) = 127, give or take sharp's rounding
    expect(Math.abs(b! - 127)).toBeLessThanOrEqual(1)
    expect(g).toBe(b)
    expect(pixelAt(tensor, 2, 0, 1)).toEqual([255, 0, 0])
    expect(pixelAt(tensor, 2, 1, 1)).toEqual([0, 0, 0])
  })

  it("centres a wide image on a white square, the odd margin row at the bottom", async () => {
    // 4×1 greys on a 4×4 square: 1 white row above, 2 below
    const png = await pngFromPixels(4, 1, 3, [10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40])
    const tensor = await prepare(png, 4)
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        const expected = y === 1 ? [(x + 1) * 10, (x + 1) * 10, (x + 1) * 10] : [255, 255, 255]
        expect(pixelAt(tensor, 4, x, y)).toEqual(expected)
      }
    }
  })

  it("centres a tall image on a white square, the odd margin column at the right", async () => {
    const png = await pngFromPixels(1, 3, 3, [0, 0, 0, 0, 0, 0, 0, 0, 0])
    const tensor = await prepare(png, 3)
    for (let y = 0; y < 3; y++) {
      expect(pixelAt(tensor, 3, 0, y)).toEqual([255, 255, 255])
      expect(pixelAt(tensor, 3, 1, y)).toEqual([0, 0, 0])
      expect(pixelAt(tensor, 3, 2, y)).toEqual([255, 255, 255])
    }
    const wide = padToSquare({ width: 2, height: 5, data: new Uint8Array(30) })
    expect([wide.width, wide.height]).toEqual([5, 5])
    // 3 margin columns: 1 left, 2 right
    expect(wide.data[0]).toBe(255)
    expect(wide.data[3]).toBe(0)
    expect(wide.data[6]).toBe(0)
    expect(wide.data[9]).toBe(255)
  })

  it("repeats a greyscale value in all three channels, and grey + alpha flattens onto white", async () => {
    const grey = await prepare(await pngFromPixels(2, 2, 1, [0, 60, 120, 240]), 2)
    expect(Array.from(grey)).toEqual([0, 0, 0, 60, 60, 60, 120, 120, 120, 240, 240, 240])
    const greyAlpha = await prepare(await pngFromPixels(1, 1, 2, [0, 0]), 1)
    expect(Array.from(greyAlpha)).toEqual([255, 255, 255])
  })

  it("resizes to the model's size, keeping flat colours exact and the padding white", async () => {
    // 40×20 blue → 40×40 with white rows 0–9 and 30–39 → 8×8: rows 0–1 white, 2–5 blue, 6–7 white
    const blue = Array.from({ length: 40 * 20 }, () => [0, 0, 255]).flat()
    const tensor = await prepare(await pngFromPixels(40, 20, 3, blue), 8)
    expect(tensor.length).toBe(8 * 8 * 3)
    for (let x = 0; x < 8; x++) {
      expect(pixelAt(tensor, 8, x, 0)).toEqual([255, 255, 255])
      expect(pixelAt(tensor, 8, x, 3)).toEqual([255, 0, 0])
      expect(pixelAt(tensor, 8, x, 4)).toEqual([255, 0, 0])
      expect(pixelAt(tensor, 8, x, 7)).toEqual([255, 255, 255])
    }
  })

  it("resizes a gradient smoothly (bicubic, both directions)", async () => {
    const ramp = new Uint8Array(16 * 16 * 3)
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 16; x++) ramp.fill(x * 16, (y * 16 + x) * 3, (y * 16 + x) * 3 + 3)
    const down = await resizeSquare({ width: 16, height: 16, data: ramp }, 4)
    const row = [0, 1, 2, 3].map((x) => down.data[x * 3]!)
    expect(row[0]!).toBeLessThan(row[1]!)
    expect(row[2]!).toBeLessThan(row[3]!)
    expect(Math.abs(row[1]! - 88)).toBeLessThan(12)
    const up = await resizeSquare(down, 16)
    expect([up.width, up.height, up.data.length]).toEqual([16, 16, 16 * 16 * 3])
  })

  it("writes into a batch tensor at an offset", () => {
    const target = new Float32Array(6)
    writeBgrFloat({ width: 1, height: 1, data: new Uint8Array([1, 2, 3]) }, target, 3)
    expect(Array.from(target)).toEqual([0, 0, 0, 3, 2, 1])
  })

  it("names the file it cannot read", async () => {
    const path = await writeFileIn(await tempDir(), "broken.png", "not a png")
    const error = await Effect.runPromise(Effect.flip(readWd14Input(path, 4)))
    expect(error._tag).toBe("TaggerFileError")
    expect(error.message).toContain("broken.png")
  })
})
