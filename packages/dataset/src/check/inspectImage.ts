import { createHash } from "node:crypto"
import { readFile } from "node:fs/promises"
import { extname } from "node:path"
import sharp from "sharp"
import { describeCause, describeImageFailure } from "../errors.js"
import { openImage } from "../image/decode.js"
import { hashInputSide, perceptualHash } from "./perceptualHash.js"

/** What one image file is, as far as training cares. */
export interface ImageInspection {
  readonly path: string
  readonly bytes: number
  /** SHA-256 of the file's bytes: equal files are exact duplicates. */
  readonly contentHash: string
  /** Set when the file cannot be decoded fully (unknown format, truncated, corrupt). */
  readonly decodeError?: string
  /** What the content is (may differ from the extension). */
  readonly format?: string
  /** Size as shown, after the EXIF orientation is applied. */
  readonly width?: number
  readonly height?: number
  readonly frames?: number
  readonly colourSpace?: string
  readonly bitDepth?: number
  readonly hasAlpha?: boolean
  /** EXIF orientation 2–8 (1, or none, means the pixels are stored upright). */
  readonly exifOrientation?: number
  readonly perceptualHash?: string
}

const extensionFormats: Readonly<Record<string, string>> = {
  ".png": "png",
  ".jpg": "jpeg",
  ".jpeg": "jpeg",
  ".webp": "webp",
}

/** The extension promises one format and the content is another (e.g. a JPEG saved as `.png`). */
export const extensionMismatch = (inspection: ImageInspection): boolean => {
  const expected = extensionFormats[extname(inspection.path).toLowerCase()]
  return expected !== undefined && inspection.format !== undefined && inspection.format !== expected
}

const depthBits: Readonly<Record<string, number>> = {
  uchar: 8,
  char: 8,
  ushort: 16,
  short: 16,
  uint: 32,
  int: 32,
  float: 32,
  double: 64,
}

/**
 * Reads the header, then decodes the whole first frame into a 32×32 greyscale thumbnail for the
 * perceptual hash — one full decode, which is what catches truncated and corrupt files. Never
 * throws: a bad file comes back with `decodeError`.
 */
export const inspectImage = async (path: string): Promise<ImageInspection> => {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (cause) {
    return { path, bytes: 0, contentHash: "", decodeError: describeCause(cause) }
  }
  const base = {
    path,
    bytes: bytes.byteLength,
    contentHash: createHash("sha256").update(bytes).digest("hex"),
  }
  try {
    const metadata = await sharp(bytes).metadata()
    const thumbnail = await openImage(bytes)
      .flatten({ background: "#ffffff" })
      .resize(hashInputSide, hashInputSide, { fit: "fill" })
      .greyscale()
      .raw({ depth: "uchar" })
      .toBuffer()
    const orientation = metadata.orientation ?? 1
    return {
      ...base,
      format: metadata.format,
      width: metadata.autoOrient.width,
      height: metadata.autoOrient.height,
      frames: metadata.pages ?? 1,
      colourSpace: metadata.space,
      bitDepth: metadata.bitsPerSample ?? depthBits[metadata.depth] ?? 8,
      hasAlpha: metadata.hasAlpha,
      ...(orientation > 1 ? { exifOrientation: orientation } : {}),
      perceptualHash: perceptualHash(
        new Uint8Array(thumbnail.buffer, thumbnail.byteOffset, thumbnail.byteLength),
      ),
    }
  } catch (cause) {
    return { ...base, decodeError: describeImageFailure(cause) }
  }
}
