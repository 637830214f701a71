import type { RawImage } from "../image/decode.js"

/** Numbers that tell a broken sample ("鬼图") from a picture, measured on 8-bit RGB(A) pixels. */
export interface ImageStats {
  /** Mean BT.601 luma, 0–255. */
  readonly meanLuma: number
  /** Standard deviation of luma. */
  readonly lumaStd: number
  /** Share of pixels with one channel at ≥ 250 and another at ≤ 5: colours burnt to pure hues. */
  readonly clippedColour: number
  /**
   * Mean squared difference of neighbouring pixels over twice the variance, on luma averaged over
   * 8×8 blocks (the latent grid of an SD VAE; smaller blocks for small images, never below 2×2): about
   * 1 for noise, whose neighbours are independent, and well below 1 for pictures, whose neighbours correlate.
   */
  readonly roughness: number
}

const luma = (image: RawImage): Float64Array => {
  const { width, height, channels, data } = image
  const out = new Float64Array(width * height)
  for (let i = 0, p = 0; i < out.length; i++, p += channels)
    out[i] = 0.299 * data[p]! + 0.587 * data[p + 1]! + 0.114 * data[p + 2]!
  return out
}

const blockMeans = (plane: Float64Array, width: number, height: number, block: number) => {
  const w = Math.floor(width / block)
  const h = Math.floor(height / block)
  const out = new Float64Array(w * h)
  for (let y = 0; y < h * block; y++) {
    for (let x = 0; x < w * block; x++)
      out[Math.floor(y / block) * w + Math.floor(x / block)]! += plane[y * width + x]!
  }
  for (let i = 0; i < out.length; i++) out[i]! /= block * block
  return { plane: out, width: w, height: h }
}

const roughnessOf = (plane: Float64Array, width: number, height: number): number => {
  let sum = 0
  let sumSquares = 0
  for (const v of plane) {
    sum += v
    sumSquares += v * v
  }
  const mean = sum / plane.length
  const variance = sumSquares / plane.length - mean * mean
  if (variance < 1e-6) return 0
  let differences = 0
  let pairs = 0
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = plane[y * width + x]!
      if (x + 1 < width) {
        differences += (v - plane[y * width + x + 1]!) ** 2
        pairs++
      }
      if (y + 1 < height) {
        differences += (v - plane[(y + 1) * width + x]!) ** 2
        pairs++
      }
    }
  }
  return differences / pairs / (2 * variance)
}

/** Measures {@link ImageStats} on an 8-bit RGB or RGBA image (alpha ignored). */
export const imageStats = (image: RawImage): ImageStats => {
  const { width, height, channels, data } = image
  const y = luma(image)
  let sum = 0
  let sumSquares = 0
  for (const v of y) {
    sum += v
    sumSquares += v * v
  }
  const meanLuma = sum / y.length
  const lumaStd = Math.sqrt(Math.max(0, sumSquares / y.length - meanLuma * meanLuma))
  let clipped = 0
  for (let p = 0; p < data.length; p += channels) {
    const r = data[p]!
    const g = data[p + 1]!
    const b = data[p + 2]!
    if (Math.max(r, g, b) >= 250 && Math.min(r, g, b) <= 5) clipped++
  }
  // Latent noise decodes into blobs a latent cell wide, and every VAE's cell is at least 2 px: the demo's
  // fried 32 px samples (a 2 px cell) measured 0.36 on single pixels, below any picture-safe threshold,
  // and 0.73–0.76 on 2×2 blocks, where its pictures measured 0.13–0.38.
  const block = Math.max(2, Math.min(8, Math.floor(Math.min(width, height) / 32)))
  const coarse = blockMeans(y, width, height, block)
  return {
    meanLuma,
    lumaStd,
    clippedColour: clipped / (width * height),
    roughness: roughnessOf(coarse.plane, coarse.width, coarse.height),
  }
}

export type BrokenReason = "non-finite" | "black" | "blank" | "saturated" | "noise"

/** Where a sample stops counting as a picture. */
export interface BrokenThresholds {
  /** Black: mean luma at or below this and luma deviation at or below `blackLumaStd`. */
  readonly blackMeanLuma: number
  readonly blackLumaStd: number
  /** Blank: any single flat colour (luma deviation at or below this). */
  readonly blankLumaStd: number
  /** Saturated: at least this share of pixels burnt to pure hues. */
  readonly saturatedShare: number
  /** Noise: roughness at or above this. */
  readonly noiseRoughness: number
}

export const defaultBrokenThresholds: BrokenThresholds = {
  blackMeanLuma: 8,
  blackLumaStd: 8,
  blankLumaStd: 2,
  saturatedShare: 0.4,
  noiseRoughness: 0.6,
}

/**
 * Why a sample is broken, or undefined for a picture. `nonFinite` is the sampler's word that the
 * latents or decoded pixels held NaN or infinity, which 8-bit pixels can no longer show (A1111's
 * NaN samples decode black).
 */
export const brokenReason = (
  stats: ImageStats,
  nonFinite = false,
  thresholds: BrokenThresholds = defaultBrokenThresholds,
): BrokenReason | undefined => {
  if (nonFinite) return "non-finite"
  if (stats.meanLuma <= thresholds.blackMeanLuma && stats.lumaStd <= thresholds.blackLumaStd) return "black"
  if (stats.lumaStd <= thresholds.blankLumaStd) return "blank"
  if (stats.clippedColour >= thresholds.saturatedShare) return "saturated"
  if (stats.roughness >= thresholds.noiseRoughness) return "noise"
  return undefined
}
