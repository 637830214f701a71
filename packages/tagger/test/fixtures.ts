import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import sharp from "sharp"

/** A fresh temporary folder for one test. */
export const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), "danlu-tagger-"))

export const writeFileIn = async (root: string, relative: string, content: Uint8Array | string) => {
  const path = join(root, relative)
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, content)
  return path
}

/** A PNG from raw interleaved pixels with 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) channels. */
export const pngFromPixels = (
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  pixels: ReadonlyArray<number>,
) => sharp(Buffer.from(pixels), { raw: { width, height, channels } }).png().toBuffer()

export const solidPng = (size: number, rgb: readonly [number, number, number]) =>
  sharp({
    create: { width: size, height: size, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } },
  })
    .png()
    .toBuffer()

/** Every file under a folder, relative, sorted. */
export const listTree = async (root: string): Promise<Array<string>> => {
  const entries = await readdir(root, { recursive: true, withFileTypes: true })
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
    .sort()
}
