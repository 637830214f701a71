import { type BucketAssigner, bucketAssigner, fixedSizeAssigner } from "./assignBucket.js"
import type { Size } from "./bucketResolutions.js"

/** How images get their training size: kohya's aspect-ratio buckets, or one fixed size for all. */
export type Sizing =
  | {
      readonly mode: "buckets"
      readonly resolution: Size
      readonly minSide: number
      readonly maxSide: number
      readonly step: number
      readonly noUpscale: boolean
    }
  | { readonly mode: "fixed"; readonly size: Size }

/** kohya's defaults for SD1.5: 512² area, sides 256–1024 in steps of 64, upscaling allowed. */
export const defaultSizing: Sizing = {
  mode: "buckets",
  resolution: { width: 512, height: 512 },
  minSide: 256,
  maxSide: 1024,
  step: 64,
  noUpscale: false,
}

export const makeAssigner = (sizing: Sizing): BucketAssigner =>
  sizing.mode === "fixed" ? fixedSizeAssigner(sizing.size) : bucketAssigner(sizing)

/**
 * Parses "512", "512,768" (kohya's width,height) or "512x768". Returns undefined when it is not a
 * pair of positive multiples of 8 (the VAE's downsampling factor).
 */
export const parseSize = (text: string): Size | undefined => {
  const match = /^\s*(\d+)\s*(?:[,x×]\s*(\d+)\s*)?$/i.exec(text)
  if (match === null) return undefined
  const width = Number(match[1])
  const height = match[2] === undefined ? width : Number(match[2])
  if (width < 8 || height < 8 || width % 8 !== 0 || height % 8 !== 0) return undefined
  return { width, height }
}

export const formatSize = (size: Size): string => `${size.width}×${size.height}`
