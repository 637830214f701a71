import type { RawImage } from "../image/decode.js"

/** Side of the square thumbnail a signature starts from. */
export const signatureSide = 128
const scales = 3
const window = 7
// SSIM's stabilising constants for 8-bit values (Wang et al. 2004: K1 = 0.01, K2 = 0.03, L = 255).
const c1 = (0.01 * 255) ** 2
const c2 = (0.03 * 255) ** 2
const channelWeights = [0.8, 0.1, 0.1] as const

/** One channel at one scale, with the summed-area tables every comparison needs. */
interface Plane {
  readonly side: number
  readonly values: Float64Array
  readonly sums: Float64Array
  readonly squareSums: Float64Array
}

/** An image reduced to what {@link structuralDistance} compares: Y, Cb and Cr pyramids. */
export interface ImageSignature {
  /** levels[scale][channel], of side `signatureSide >> scale`. */
  readonly levels: ReadonlyArray<ReadonlyArray<Plane>>
}

/**
 * Area-averages the image into a side×side square (stretching, not cropping: training images of other
 * aspect ratios are compared as wholes) and converts to BT.601 Y, Cb, Cr.
 */
const thumbnail = (image: RawImage, side: number): ReadonlyArray<Float64Array> => {
  const { width, height, channels, data } = image
  const planes = [new Float64Array(side * side), new Float64Array(side * side), new Float64Array(side * side)]
  for (let ty = 0; ty < side; ty++) {
    const y0 = Math.floor((ty * height) / side)
    const y1 = Math.max(y0 + 1, Math.floor(((ty + 1) * height) / side))
    for (let tx = 0; tx < side; tx++) {
      const x0 = Math.floor((tx * width) / side)
      const x1 = Math.max(x0 + 1, Math.floor(((tx + 1) * width) / side))
      let r = 0
      let g = 0
      let b = 0
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const p = (y * width + x) * channels
          r += data[p]!
          g += data[p + 1]!
          b += data[p + 2]!
        }
      }
      const n = (y1 - y0) * (x1 - x0)
      r /= n
      g /= n
      b /= n
      const i = ty * side + tx
      planes[0]![i] = 0.299 * r + 0.587 * g + 0.114 * b
      planes[1]![i] = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
      planes[2]![i] = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    }
  }
  return planes
}

const halve = (plane: Float64Array, side: number): Float64Array => {
  const half = side >> 1
  const out = new Float64Array(half * half)
  for (let y = 0; y < half; y++) {
    for (let x = 0; x < half; x++) {
      const i = 2 * y * side + 2 * x
      out[y * half + x] = (plane[i]! + plane[i + 1]! + plane[i + side]! + plane[i + side + 1]!) / 4
    }
  }
  return out
}

/** The signature of an 8-bit RGB or RGBA image (alpha ignored); compute it once per image. */
export const imageSignature = (image: RawImage): ImageSignature => {
  const pyramid = [thumbnail(image, signatureSide)]
  for (let s = 1; s < scales; s++)
    pyramid.push(pyramid[s - 1]!.map((p) => halve(p, signatureSide >> (s - 1))))
  return { levels: pyramid.map((channels, s) => channels.map((values) => plane(values, signatureSide >> s))) }
}

/** Summed-area table of a·b (a·a when b is a), with a zero first row and column. */
const integral = (a: Float64Array, b: Float64Array, side: number): Float64Array => {
  const n = side + 1
  const table = new Float64Array(n * n)
  for (let y = 0; y < side; y++) {
    let row = 0
    for (let x = 0; x < side; x++) {
      const i = y * side + x
      row += a[i]! * b[i]!
      table[(y + 1) * n + x + 1] = table[y * n + x + 1]! + row
    }
  }
  return table
}

const ones = new Float64Array(signatureSide * signatureSide).fill(1)

const plane = (values: Float64Array, side: number): Plane => ({
  side,
  values,
  sums: integral(values, ones, side),
  squareSums: integral(values, values, side),
})

/** Mean SSIM over every 7×7 window (uniform weights, as scikit-image's default). */
const meanSsim = (a: Plane, b: Plane): number => {
  const side = a.side
  const n = side + 1
  const products = integral(a.values, b.values, side)
  const { sums: sa, squareSums: saa } = a
  const { sums: sb, squareSums: sbb } = b
  const inverseArea = 1 / (window * window)
  let total = 0
  for (let y = 0; y + window <= side; y++) {
    const top = y * n
    const bottom = (y + window) * n
    for (let x = 0; x + window <= side; x++) {
      // Corners of the window in the summed-area tables.
      const p = bottom + x + window
      const q = top + x + window
      const r = bottom + x
      const t = top + x
      const ma = (sa[p]! - sa[q]! - sa[r]! + sa[t]!) * inverseArea
      const mb = (sb[p]! - sb[q]! - sb[r]! + sb[t]!) * inverseArea
      const va = (saa[p]! - saa[q]! - saa[r]! + saa[t]!) * inverseArea - ma * ma
      const vb = (sbb[p]! - sbb[q]! - sbb[r]! + sbb[t]!) * inverseArea - mb * mb
      const cov = (products[p]! - products[q]! - products[r]! + products[t]!) * inverseArea - ma * mb
      total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    }
  }
  return total / (side - window + 1) ** 2
}

/**
 * 1 − SSIM, averaged over three dyadic scales (128, 64 and 32 px thumbnails) and weighted 0.8 luma,
 * 0.1 per chroma channel; clamped to [0, 1]. 0 for the same picture, a few hundredths for re-encodes
 * and slight changes, towards 1 for unrelated pictures. SSIM rather than a 64-bit hash because the
 * effect of a LoRA weight is graded: the distance has to grow smoothly with it.
 */
export const structuralDistance = (a: ImageSignature, b: ImageSignature): number => {
  let similarity = 0
  for (let s = 0; s < scales; s++) {
    for (let c = 0; c < 3; c++)
      similarity += (channelWeights[c]! * meanSsim(a.levels[s]![c]!, b.levels[s]![c]!)) / scales
  }
  return Math.min(1, Math.max(0, 1 - similarity))
}
