import { mkdir, mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import sharp from "sharp"

/** A fresh temporary folder for one test. */
export const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), "danlu-dataset-"))

export const writeFileIn = async (root: string, relative: string, bytes: Uint8Array | string) => {
  const path = join(root, relative)
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, bytes)
  return path
}

/** A solid image with a diagonal gradient so that resizes and hashes have something to see. */
export const gradient = (width: number, height: number, seed = 0, channels: 3 | 4 = 3) => {
  const data = Buffer.alloc(width * height * channels)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels
      data[i] = (x * 255) / Math.max(1, width - 1)
      data[i + 1] = (y * 255) / Math.max(1, height - 1)
      data[i + 2] = (seed * 67 + x * y) % 256
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
