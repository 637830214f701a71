/** A training resolution: width × height in pixels. */
export interface Size {
  readonly width: number
  readonly height: number
}

export interface BucketOptions {
  /** The training resolution; every bucket's area is at most its area (kohya's `resolution`). */
  readonly resolution: Size
  /** The smallest bucket side (kohya's `min_bucket_reso`, default 256). */
  readonly minSide: number
  /** The largest bucket side (kohya's `max_bucket_reso`, default 1024). */
  readonly maxSide: number
  /** Sides are multiples of this (kohya's `bucket_reso_steps`, 64 for SD1/SD2). */
  readonly step: number
}

export const defaultBucketOptions = (resolution: Size): BucketOptions => ({
  resolution,
  minSide: 256,
  maxSide: 1024,
  step: 64,
})

const compareSizes = (a: Size, b: Size): number => a.width - b.width || a.height - b.height

/**
 * kohya's `make_bucket_resolutions`: the largest square that fits the area, then for every width from
 * `minSide` to `maxSide` the tallest height whose area still fits, and its transpose. Sorted by
 * (width, height), as kohya sorts its tuples; the order matters because ties in aspect ratio go to
 * the first bucket.
 */
export const makeBucketResolutions = (options: BucketOptions): ReadonlyArray<Size> => {
  const { resolution, minSide, maxSide, step } = options
  const maxArea = resolution.width * resolution.height
  const seen = new Map<string, Size>()
  const add = (width: number, height: number) => seen.set(`${width}x${height}`, { width, height })
  const square = Math.floor(Math.sqrt(maxArea) / step) * step
  add(square, square)
  for (let width = minSide; width <= maxSide; width += step) {
    const height = Math.min(maxSide, Math.floor(Math.floor(maxArea / width) / step) * step)
    if (height >= minSide) {
      add(width, height)
      add(height, width)
    }
  }
  return [...seen.values()].sort(compareSizes)
}
