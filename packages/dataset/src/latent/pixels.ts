import type { RawImage } from "../image/decode.js"

/** An image as the VAE takes it: float32, channels first ([3, height, width]), values in [-1, 1]. */
export interface PixelTensor {
  readonly shape: readonly [3, number, number]
  readonly data: Float32Array
}

/** RGB bytes (interleaved) to the VAE's input range, like kohya's `ToTensor` + `Normalize([0.5], [0.5])`. */
export const toPixelTensor = (image: RawImage): PixelTensor => {
  const { width, height, channels, data } = image
  const plane = width * height
  const out = new Float32Array(3 * plane)
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = data[p * channels + c]! / 127.5 - 1
  }
  return { shape: [3, height, width], data: out }
}

/** The same pixels mirrored left to right (kohya's `flip_aug` encodes the flipped image). */
export const flipHorizontally = (pixels: PixelTensor): PixelTensor => {
  const [channels, height, width] = pixels.shape
  const out = new Float32Array(pixels.data.length)
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      const row = (c * height + y) * width
      for (let x = 0; x < width; x++) out[row + x] = pixels.data[row + width - 1 - x]!
    }
  }
  return { shape: pixels.shape, data: out }
}
