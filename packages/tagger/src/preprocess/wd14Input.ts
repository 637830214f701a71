import type { RgbImage } from "@danlu/dataset"
import sharp from "sharp"

/** 8-bit RGB pixels, row-major, interleaved. */
export interface RgbPixels {
  readonly width: number
  readonly height: number
  readonly data: Uint8Array
}

/**
 * Centres the image on a white square as wide as its longer side (the extra pixel of an odd margin
 * goes right / bottom, as in kohya's `tag_images_by_wd14_tagger.py`).
 */
export const padToSquare = (image: RgbPixels): RgbPixels => {
  const side = Math.max(image.width, image.height)
  if (image.width === side && image.height === side) return image
  const data = new Uint8Array(side * side * 3).fill(255)
  const left = Math.floor((side - image.width) / 2)
  const top = Math.floor((side - image.height) / 2)
  const rowBytes = image.width * 3
  for (let y = 0; y < image.height; y++) {
    const from = y * rowBytes
    data.set(image.data.subarray(from, from + rowBytes), ((top + y) * side + left) * 3)
  }
  return { width: side, height: side, data }
}

/**
 * Resizes a square image with a bicubic filter, the resampling of the WD tagger author's reference
 * demo (PIL `BICUBIC`).
 */
export const resizeSquare = async (image: RgbPixels, size: number): Promise<RgbPixels> => {
  if (image.width === size && image.height === size) return image
  const { data, info } = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .resize(size, size, { kernel: "cubic", fit: "fill" })
    .raw()
    .toBuffer({ resolveWithObject: true })
  return {
    width: info.width,
    height: info.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
  }
}

/** Writes an RGB image into an NHWC float32 tensor as BGR 0–255, starting at `offset`. */
export const writeBgrFloat = (image: RgbPixels, target: Float32Array, offset = 0): void => {
  const { data } = image
  for (let i = 0; i < data.length; i += 3) {
    target[offset + i] = data[i + 2]!
    target[offset + i + 1] = data[i + 1]!
    target[offset + i + 2] = data[i]!
  }
}

/**
 * The WD1.4 input for one decoded image (alpha already flattened onto white by the decoder): white
 * square padding, bicubic resize to `size`, BGR, float32 0–255, HWC.
 */
export const wd14Input = async (image: RgbImage | RgbPixels, size: number): Promise<Float32Array> => {
  const square = await resizeSquare(padToSquare(image), size)
  const tensor = new Float32Array(size * size * 3)
  writeBgrFloat(square, tensor)
  return tensor
}
