import { Effect } from "effect"
import sharp, { type Sharp } from "sharp"
import { DatasetError, describeImageFailure } from "../errors.js"

/** A path, or the file's bytes already in memory. */
export type ImageSource = string | Uint8Array

/** Raw 8-bit sRGB pixels, row-major, interleaved: 3 channels (RGB) or 4 (RGBA). */
export interface RawImage {
  readonly width: number
  readonly height: number
  readonly channels: 3 | 4
  readonly data: Uint8Array
}

export interface RgbImage extends RawImage {
  readonly channels: 3
  /** The source had an alpha channel, now flattened onto the background. */
  readonly hadAlpha: boolean
}

export interface RgbaImage extends RawImage {
  /** 4 when the source had alpha (kept as is), 3 when it had none. */
  readonly channels: 3 | 4
  readonly hasAlpha: boolean
}

/** An sRGB colour, 0–255 per channel. */
export interface Rgb {
  readonly r: number
  readonly g: number
  readonly b: number
}

export const white: Rgb = { r: 255, g: 255, b: 255 }

const describeSource = (source: ImageSource): string =>
  typeof source === "string" ? source : `image of ${source.byteLength} bytes`

const sharpInput = (source: ImageSource): string | Buffer =>
  typeof source === "string" ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength)

/**
 * A sharp pipeline that already applied what every danlu reader needs: the first frame only, EXIF
 * rotation applied, converted to 8-bit sRGB (CMYK, greyscale and 16-bit sources included).
 */
export const openImage = (source: ImageSource): Sharp =>
  sharp(sharpInput(source), { autoOrient: true }).toColourspace("srgb")

const decodeFailed = (source: ImageSource) => (cause: unknown) =>
  new DatasetError({
    message: `cannot decode ${describeSource(source)}: ${describeImageFailure(cause)}`,
    ...(typeof source === "string" ? { path: source } : {}),
  })

const toRaw = async (pipeline: Sharp) => {
  const { data, info } = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true })
  return {
    width: info.width,
    height: info.height,
    channels: info.channels,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  }
}

/** Decodes to RGB, flattening any alpha onto `background` (white by default, as the guide prefers). */
export const decodeImageRgb = async (source: ImageSource, background: Rgb = white): Promise<RgbImage> => {
  const pipeline = openImage(source)
  const { hasAlpha } = await pipeline.metadata()
  const raw = await toRaw(pipeline.flatten({ background }).removeAlpha())
  return { ...raw, channels: 3, hadAlpha: hasAlpha }
}

/** Decodes to RGB, or RGBA when the source has alpha; alpha is left as it is. */
export const decodeImageRgba = async (source: ImageSource): Promise<RgbaImage> => {
  const raw = await toRaw(openImage(source))
  const channels = raw.channels === 4 ? 4 : 3
  if (raw.channels !== channels) throw new Error(`unexpected ${raw.channels}-channel decode`)
  return { ...raw, channels, hasAlpha: channels === 4 }
}

/** {@link decodeImageRgb} as an Effect with a {@link DatasetError} naming the file. */
export const readImageRgb = (
  source: ImageSource,
  options: { readonly background?: Rgb } = {},
): Effect.Effect<RgbImage, DatasetError> =>
  Effect.tryPromise({
    try: () => decodeImageRgb(source, options.background ?? white),
    catch: decodeFailed(source),
  })

/** {@link decodeImageRgba} as an Effect with a {@link DatasetError} naming the file. */
export const readImageRgba = (source: ImageSource): Effect.Effect<RgbaImage, DatasetError> =>
  Effect.tryPromise({ try: () => decodeImageRgba(source), catch: decodeFailed(source) })
