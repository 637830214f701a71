import type { RawImage } from "../image/decode.js"

/** Shorter cell side, in pixels, that the default grid scale aims for. */
export const readableCellSide = 128

/**
 * The integer factor a grid enlarges its cells by when none is given: the one that brings the shorter
 * side nearest {@link readableCellSide} (32 px cells → 4), and 1 from 86 px up, so A1111-size cells stay
 * as they are.
 */
export const defaultCellScale = (width: number, height: number): number =>
  Math.max(1, Math.round(readableCellSide / Math.min(width, height)))

/** The image `factor` times larger, each pixel a factor × factor block (nearest neighbour: no blur). */
export const enlargeCell = (image: RawImage, factor: number): RawImage => {
  if (factor === 1) return image
  const { width, height, channels, data } = image
  const w = width * factor
  const out = new Uint8Array(w * height * factor * channels)
  for (let y = 0; y < height; y++) {
    const row = y * factor * w * channels
    for (let x = 0; x < width; x++) {
      const pixel = data.subarray((y * width + x) * channels, (y * width + x + 1) * channels)
      for (let dx = 0; dx < factor; dx++) out.set(pixel, row + (x * factor + dx) * channels)
    }
    for (let dy = 1; dy < factor; dy++) out.copyWithin(row + dy * w * channels, row, row + w * channels)
  }
  return { width: w, height: height * factor, channels, data: out }
}
