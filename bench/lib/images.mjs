// Photo-like test images for benchmarks: smooth colour fields plus per-pixel noise, so decoders have real work.
import sharp from "sharp"

/** A JPEG (quality 90) of `width`×`height`; `seed` shifts the colours so images differ. */
export const makeJpeg = (seed, width, height) => {
  const data = Buffer.alloc(width * height * 3)
  let state = seed * 2654435761
  for (let i = 0; i < data.length; i += 3) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    const p = i / 3
    const x = p % width
    const y = Math.floor(p / width)
    const noise = state >>> 27
    data[i] = (x / 4 + seed * 40 + noise) & 255
    data[i + 1] = (y / 4 + noise) & 255
    data[i + 2] = ((x + y) / 8 + noise) & 255
  }
  return sharp(data, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer()
}
