import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { open, readdir, stat } from "node:fs/promises"
import { join } from "node:path"
import sharp from "sharp"
import type { RawImage } from "../image/decode.js"
import { withPngText } from "../png/pngText.js"

const sha256File = (path: string, start = 0): Promise<string> =>
  new Promise((resolve, reject) => {
    const hash = createHash("sha256")
    createReadStream(path, { start })
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")))
  })

// Hashing a checkpoint reads gigabytes: remember each file's hash while its size and time stay the same.
const hashes = new Map<string, Promise<string>>()
const remembered = async (path: string, kind: string, compute: () => Promise<string>): Promise<string> => {
  const { size, mtimeMs } = await stat(path)
  const key = `${kind}\u0000${path}\u0000${size}\u0000${mtimeMs}`
  let found = hashes.get(key)
  if (!found) {
    found = compute()
    hashes.set(key, found)
    found.catch(() => hashes.delete(key))
  }
  return found
}

/** A1111's "Model hash": the first 10 hex digits of the whole file's sha256. */
export const modelShortHash = (path: string): Promise<string> =>
  remembered(path, "model", async () => (await sha256File(path)).slice(0, 10))

/**
 * A1111's "Lora hashes" entry: the first 12 hex digits of the sha256 of a safetensors file's tensor data
 * (everything after the header — `addnet_hash_safetensors`, the same value as kohya's `sshs_model_hash`).
 */
export const loraShortHash = (path: string): Promise<string> =>
  remembered(path, "lora", async () => {
    const handle = await open(path, "r")
    try {
      const head = Buffer.alloc(8)
      await handle.read(head, 0, 8, 0)
      const headerLength = Number(head.readBigUInt64LE(0))
      return (await sha256File(path, 8 + headerLength)).slice(0, 12)
    } finally {
      await handle.close()
    }
  })

/** The picture as a PNG with A1111's `parameters` text chunk. */
export const encodePng = async (image: RawImage, parameters: string): Promise<Uint8Array> => {
  const png = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels as 3 | 4 },
  })
    .png()
    .toBuffer()
  return withPngText(new Uint8Array(png.buffer, png.byteOffset, png.byteLength), [
    { keyword: "parameters", text: parameters },
  ])
}

/** The number A1111 gives the next picture in a folder: one past the highest `NNNNN-` prefix there. */
export const nextImageNumber = async (dir: string): Promise<number> => {
  const names = await readdir(dir).catch(() => [] as string[])
  let next = 0
  for (const name of names) {
    const match = /^(\d{5,})-/.exec(name)
    if (match) next = Math.max(next, Number(match[1]) + 1)
  }
  return next
}

/** A1111's default file name pattern `[seed]`: `00012-1234.png`. */
export const imageFileName = (dir: string, number: number, seed: number): string =>
  join(dir, `${String(number).padStart(5, "0")}-${seed}.png`)
