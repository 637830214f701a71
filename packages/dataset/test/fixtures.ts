import { createHash } from "node:crypto"
import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import sharp from "sharp"
import type { Sizing } from "../src/index.js"

/** A fresh temporary folder for one test. */
export const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), "danlu-dataset-"))

export const writeFileIn = async (root: string, relative: string, bytes: Uint8Array | string) => {
  const path = join(root, relative)
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, bytes)
  return path
}

/**
 * A smooth pattern whose layout depends on `seed` (different stripe directions and frequencies), so
 * different seeds hash far apart while resizes of one image stay close. With 4 channels, the left
 * half is fully transparent.
 */
export const gradient = (width: number, height: number, seed = 0, channels: 3 | 4 = 3) => {
  const data = Buffer.alloc(width * height * channels)
  const angle = seed * 2.399
  const frequency = 2 + (seed % 5)
  const fx = (Math.cos(angle) * frequency * Math.PI) / width
  const fy = (Math.sin(angle) * frequency * Math.PI) / height
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels
      const wave = Math.sin(x * fx + y * fy + seed)
      data[i] = 128 + 127 * wave
      data[i + 1] = (x * 255) / Math.max(1, width - 1)
      data[i + 2] = 128 - 127 * wave
      if (channels === 4) data[i + 3] = x < width / 2 ? 0 : 255
    }
  }
  return sharp(data, { raw: { width, height, channels } })
}

export const solid = (width: number, height: number, background: { r: number; g: number; b: number }) =>
  sharp({ create: { width, height, channels: 3, background } })

/** Two frames stacked vertically, written as an animated WebP. */
export const animatedWebp = async (size: number) => {
  const frame = (r: number) =>
    sharp({ create: { width: size, height: size, channels: 4, background: { r, g: 0, b: 0, alpha: 1 } } })
      .raw()
      .toBuffer()
  const frames = Buffer.concat([await frame(255), await frame(0)])
  return sharp(frames, { raw: { width: size, height: size * 2, channels: 4, pageHeight: size } })
    .webp({ loop: 0, delay: [100, 100] })
    .toBuffer()
}

/**
 * A training folder with everything the check must notice: odd sizes, alpha, CMYK, 16-bit, EXIF
 * rotation, an animated WebP, corrupt and truncated files, a copy and a near-copy, a GIF, a text file,
 * a nested image, a wrongly named folder and a hyphenated one.
 */
export const mixedDataset = async (root: string) => {
  const a = await gradient(600, 400, 1).png().toBuffer()
  const jpeg = await gradient(1024, 768, 2).jpeg({ quality: 90 }).toBuffer()
  await writeFileIn(root, "10_cat/a.png", a)
  await writeFileIn(root, "10_cat/a.txt", "1girl, smile, outdoors")
  await writeFileIn(root, "10_cat/b.jpg", jpeg)
  await writeFileIn(root, "10_cat/b.txt", "1girl, red hair")
  await writeFileIn(root, "10_cat/c.webp", await gradient(512, 512, 3).webp().toBuffer())
  await writeFileIn(root, "10_cat/c.caption", "1girl")
  await writeFileIn(root, "10_cat/alpha.png", await gradient(300, 300, 4, 4).png().toBuffer())
  await writeFileIn(
    root,
    "10_cat/cmyk.jpg",
    await gradient(520, 520, 5).toColourspace("cmyk").jpeg().toBuffer(),
  )
  await writeFileIn(
    root,
    "10_cat/sixteen.png",
    await gradient(520, 520, 6).toColourspace("rgb16").png().toBuffer(),
  )
  await writeFileIn(
    root,
    "10_cat/rotated.jpg",
    await gradient(640, 480, 7).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
  )
  await writeFileIn(root, "10_cat/anim.webp", await animatedWebp(520))
  await writeFileIn(root, "10_cat/corrupt.png", "this is not a png at all")
  await writeFileIn(root, "10_cat/truncated.jpg", jpeg.subarray(0, 2000))
  await writeFileIn(root, "10_cat/dup.png", a)
  await writeFileIn(root, "10_cat/near.jpg", await sharp(a).resize(580, 387).jpeg({ quality: 80 }).toBuffer())
  await writeFileIn(root, "10_cat/notes.md", "# my notes")
  await writeFileIn(root, "10_cat/d.gif", await gradient(64, 64).gif().toBuffer())
  await writeFileIn(root, "10_cat/sub/e.png", a)
  await writeFileIn(root, "cats/f.png", a)
  await writeFileIn(root, "2-dog/x.png", await gradient(768, 512, 8).png().toBuffer())
}

/** Every file under a folder with the hash of its bytes, to prove nothing was changed. */
export const snapshot = async (root: string): Promise<Record<string, string>> => {
  const out: Record<string, string> = {}
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    out[path] = createHash("sha256")
      .update(await readFile(path))
      .digest("hex")
  }
  return out
}

/** kohya's SD1.5 buckets with `--bucket_no_upscale`. */
export const noUpscale: Sizing = {
  mode: "buckets",
  resolution: { width: 512, height: 512 },
  minSide: 256,
  maxSide: 1024,
  step: 64,
  noUpscale: true,
}
