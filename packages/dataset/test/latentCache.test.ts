import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { memorySource, openSafetensors, toHostTensor } from "@danlu/core/io"
import { Effect } from "effect"
import sharp from "sharp"
import { describe, expect, it } from "vitest"
import {
  bucketAssigner,
  defaultBucketOptions,
  flipHorizontally,
  type LatentEncoder,
  type LatentTensor,
  makeLatentCache,
  type PixelTensor,
  toPixelTensor,
} from "../src/index.js"
import { gradient, solid, tempDir, writeFileIn } from "./fixtures.js"

/** A stand-in VAE: 8×8 average pooling, so latents are [3, H/8, W/8] and depend on every pixel. */
const poolingEncoder = (vaeHash: string) => {
  const calls: Array<PixelTensor> = []
  const encoder: LatentEncoder<never> = {
    vaeHash,
    encode: (pixels) =>
      Effect.sync(() => {
        calls.push(pixels)
        const [channels, height, width] = pixels.shape
        const h = height / 8
        const w = width / 8
        const data = new Float32Array(channels * h * w)
        for (let c = 0; c < channels; c++)
          for (let y = 0; y < height; y++)
            for (let x = 0; x < width; x++) {
              data[(c * h + Math.floor(y / 8)) * w + Math.floor(x / 8)]! +=
                pixels.data[(c * height + y) * width + x]! / 64
            }
        return { shape: [channels, h, w], data }
      }),
  }
  return { encoder, calls }
}

/** A cache file read back with @danlu/core's safetensors reader. */
const readCacheFile = async (path: string) => {
  const file = await Effect.runPromise(
    openSafetensors(memorySource(new Uint8Array(await readFile(path)), path)),
  )
  const tensors: Record<string, LatentTensor> = {}
  for (const info of file.tensors) {
    const host = toHostTensor(await Effect.runPromise(file.read(info.name)))
    tensors[info.name] = { shape: host.shape, data: host.data as Float32Array }
  }
  return { metadata: file.metadata, tensors, dtypes: file.tensors.map((t) => t.dtype) }
}

const assigner = bucketAssigner(defaultBucketOptions({ width: 256, height: 256 }))
const mirrored = (latent: LatentTensor): LatentTensor =>
  flipHorizontally({ shape: latent.shape as [3, number, number], data: latent.data })

describe("latent cache", () => {
  it("encodes once, then serves from disk; the flip variant is the encoded mirror image", async () => {
    const root = await tempDir()
    const source = await writeFileIn(root, "a.png", await gradient(300, 200, 3).png().toBuffer())
    const assignment = assigner.assign({ width: 300, height: 200 })
    const { encoder, calls } = poolingEncoder("vae-1")
    const cache = makeLatentCache(join(root, "cache"), encoder)
    const first = await Effect.runPromise(cache.get({ source, assignment, flip: true }))
    expect(first.encoded).toBe(2)
    expect(first.latent.shape).toEqual([3, assignment.bucket.height / 8, assignment.bucket.width / 8])
    const flippedExpected = mirrored(first.latent)
    for (let i = 0; i < flippedExpected.data.length; i++)
      expect(first.flipped!.data[i]).toBeCloseTo(flippedExpected.data[i]!, 5)
    const again = await Effect.runPromise(cache.get({ source, assignment, flip: true }))
    expect(again.encoded).toBe(0)
    expect(again.latent.data).toEqual(first.latent.data)
    expect(calls).toHaveLength(2)
    const file = await readCacheFile(first.path)
    expect(Object.keys(file.tensors).sort()).toEqual(["latent", "latent_flipped"])
    expect(file.dtypes).toEqual(["F32", "F32"])
    expect(file.tensors.latent!.data).toEqual(first.latent.data)
    expect(file.metadata).toMatchObject({
      vae_hash: "vae-1",
      bucket: `${assignment.bucket.width}x${assignment.bucket.height}`,
    })
  })

  it("caches the alpha mask at latent size, the mean of alpha/255 over each 8×8 block (kohya's area resize)", async () => {
    const root = await tempDir()
    const size = 256
    const rgba = Buffer.alloc(size * size * 4)
    const alphaAt = (x: number, y: number) => (x < 100 ? 255 : y < 37 ? 51 : (x * 7 + y * 3) % 256)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        rgba.set([x % 256, y % 256, 90, alphaAt(x, y)], (y * size + x) * 4)
      }
    const png = await sharp(rgba, { raw: { width: size, height: size, channels: 4 } })
      .png()
      .toBuffer()
    const source = await writeFileIn(root, "cutout.png", png)
    const opaque = await writeFileIn(root, "opaque.png", await gradient(size, size, 2).png().toBuffer())
    const assignment = assigner.assign({ width: size, height: size })
    expect(assignment.bucket).toEqual({ width: size, height: size })
    const cache = makeLatentCache(join(root, "cache"), poolingEncoder("v").encoder)
    const first = await Effect.runPromise(cache.get({ source, assignment, alphaMask: true }))
    expect(first.mask!.shape).toEqual([1, size / 8, size / 8])
    for (let by = 0; by < size / 8; by++)
      for (let bx = 0; bx < size / 8; bx++) {
        let sum = 0
        for (let y = by * 8; y < by * 8 + 8; y++)
          for (let x = bx * 8; x < bx * 8 + 8; x++) sum += alphaAt(x, y)
        expect(first.mask!.data[by * (size / 8) + bx]).toBeCloseTo(sum / 64 / 255, 6)
      }
    const again = await Effect.runPromise(cache.get({ source, assignment, alphaMask: true }))
    expect([again.encoded, again.mask!.data]).toEqual([0, first.mask!.data])
    expect(Object.keys((await readCacheFile(first.path)).tensors).sort()).toEqual(["alpha_mask", "latent"])
    const plain = await Effect.runPromise(cache.get({ source: opaque, assignment, alphaMask: true }))
    expect([...plain.mask!.data].every((v) => v === 1)).toBe(true)
  })

  it("adds the flip variant to an existing entry without encoding the plain image again", async () => {
    const root = await tempDir()
    const source = await writeFileIn(root, "a.png", await gradient(256, 256, 5).png().toBuffer())
    const assignment = assigner.assign({ width: 256, height: 256 })
    const cache = makeLatentCache(join(root, "cache"), poolingEncoder("v").encoder)
    expect((await Effect.runPromise(cache.get({ source, assignment }))).encoded).toBe(1)
    const withFlip = await Effect.runPromise(cache.get({ source, assignment, flip: true }))
    expect([withFlip.encoded, withFlip.flipped !== undefined]).toEqual([1, true])
  })

  it("invalidates exactly the entries of a changed image, and everything for a new VAE", async () => {
    const root = await tempDir()
    const a = await writeFileIn(root, "a.png", await gradient(256, 256, 1).png().toBuffer())
    const b = await writeFileIn(root, "b.png", await gradient(256, 256, 2).png().toBuffer())
    const assignment = assigner.assign({ width: 256, height: 256 })
    const cacheDir = join(root, "cache")
    const cache = makeLatentCache(cacheDir, poolingEncoder("vae-1").encoder)
    const get = (source: string) => Effect.runPromise(cache.get({ source, assignment }))
    const [firstA, firstB] = [await get(a), await get(b)]
    await writeFile(a, await gradient(256, 256, 9).png().toBuffer())
    const [secondA, secondB] = [await get(a), await get(b)]
    expect([secondA.encoded, secondB.encoded]).toEqual([1, 0])
    expect(secondA.key).not.toBe(firstA.key)
    expect(secondB.key).toBe(firstB.key)
    const otherVae = makeLatentCache(cacheDir, poolingEncoder("vae-2").encoder)
    expect((await Effect.runPromise(otherVae.get({ source: b, assignment }))).encoded).toBe(1)
    const removed = await Effect.runPromise(cache.prune(new Set([secondA.key, secondB.key])))
    expect(removed).toBe(2)
    expect((await get(b)).encoded).toBe(0)
    expect((await get(a)).encoded).toBe(0)
  })

  it("keys the crop: a different window is a different entry", async () => {
    const root = await tempDir()
    const source = await writeFileIn(root, "wide.png", await gradient(400, 256, 4).png().toBuffer())
    const assignment = {
      bucket: { width: 256, height: 256 },
      resized: { width: 400, height: 256 },
      aspectError: 0,
      upscaled: false,
    }
    const cache = makeLatentCache(join(root, "cache"), poolingEncoder("v").encoder)
    const centre = await Effect.runPromise(cache.get({ source, assignment }))
    const left = await Effect.runPromise(cache.get({ source, assignment, crop: { left: 0, top: 0 } }))
    expect(left.key).not.toBe(centre.key)
    expect(left.encoded).toBe(1)
    expect(left.latent.data).not.toEqual(centre.latent.data)
  })

  it("rewrites an unreadable cache file instead of failing", async () => {
    const root = await tempDir()
    const source = await writeFileIn(
      root,
      "a.png",
      await solid(64, 64, { r: 255, g: 255, b: 255 }).png().toBuffer(),
    )
    const assignment = {
      bucket: { width: 64, height: 64 },
      resized: { width: 64, height: 64 },
      aspectError: 0,
      upscaled: false,
    }
    const cache = makeLatentCache(join(root, "cache"), poolingEncoder("v").encoder)
    const first = await Effect.runPromise(cache.get({ source, assignment }))
    expect([...first.latent.data].every((v) => Math.abs(v - 1) < 1e-6)).toBe(true)
    await writeFile(first.path, "garbage")
    const again = await Effect.runPromise(cache.get({ source, assignment }))
    expect(again.encoded).toBe(1)
    expect((await readCacheFile(first.path)).tensors.latent!.data).toEqual(again.latent.data)
  })
})

describe("pixels", () => {
  it("maps bytes to [-1, 1] channels-first and mirrors rows", () => {
    const pixels = toPixelTensor({
      width: 2,
      height: 1,
      channels: 3,
      data: new Uint8Array([0, 255, 51, 255, 0, 204]),
    })
    expect(pixels.shape).toEqual([3, 1, 2])
    expect([...pixels.data].map((v) => Number(v.toFixed(2)))).toEqual([-1, 1, 1, -1, -0.6, 0.6])
    expect([...flipHorizontally(pixels).data].map((v) => Number(v.toFixed(2)))).toEqual([
      1, -1, -1, 1, 0.6, -0.6,
    ])
  })
})
