import type { BucketOptions, Size } from "./bucketResolutions.js"
import { makeBucketResolutions } from "./bucketResolutions.js"

/** Where one image goes: the bucket, the size it is scaled to before cropping, and the AR error. */
export interface BucketAssignment {
  readonly bucket: Size
  /** The image scaled to cover the bucket (or, with `noUpscale`, its own size rounded). */
  readonly resized: Size
  /** bucket aspect − image aspect, as kohya logs it. */
  readonly aspectError: number
  /** The image is smaller than its resized size, so training blurs it by upscaling. */
  readonly upscaled: boolean
}

/**
 * False when a side of the bucket is 0: with `noUpscale`, an image (after any downscale) with a side
 * under the step has nothing left once cut down to multiples of it, and kohya has no bucket for it.
 */
export const hasBucket = (assignment: BucketAssignment): boolean =>
  assignment.bucket.width > 0 && assignment.bucket.height > 0

/** Python's `int(x + 0.5)` for the positive values used here. */
const roundHalfUp = (x: number): number => Math.floor(x + 0.5)

/** An assigner for one bucket setting. */
export interface BucketAssigner {
  readonly assign: (image: Size) => BucketAssignment
  /** The predefined buckets (empty with `noUpscale`, where buckets are made per image). */
  readonly buckets: ReadonlyArray<Size>
}

/**
 * kohya's `BucketManager.select_bucket`. Without `noUpscale`: the predefined bucket with the nearest
 * aspect ratio (the first on ties), and the image scaled so it covers the bucket. With `noUpscale`:
 * images above the area are scaled down keeping their aspect ratio, then the bucket is the size cut
 * down to multiples of `step` — crop, never pad, never upscale.
 */
export const bucketAssigner = (options: BucketOptions & { readonly noUpscale?: boolean }): BucketAssigner => {
  const { step } = options
  const maxArea = options.resolution.width * options.resolution.height
  const roundToSteps = (x: number) => {
    const rounded = roundHalfUp(x)
    return rounded - (rounded % step)
  }
  if (options.noUpscale === true) {
    const assign = (image: Size): BucketAssignment => {
      const aspect = image.width / image.height
      let resized: Size = image
      if (image.width * image.height > maxArea) {
        const resizedWidth = Math.sqrt(maxArea * aspect)
        const resizedHeight = maxArea / resizedWidth
        const widthRounded = roundToSteps(resizedWidth)
        const heightForWidth = roundToSteps(widthRounded / aspect)
        const aspectWidthRounded = widthRounded / heightForWidth
        const heightRounded = roundToSteps(resizedHeight)
        const widthForHeight = roundToSteps(heightRounded * aspect)
        const aspectHeightRounded = widthForHeight / heightRounded
        resized =
          Math.abs(aspectWidthRounded - aspect) < Math.abs(aspectHeightRounded - aspect)
            ? { width: widthRounded, height: roundHalfUp(widthRounded / aspect) }
            : { width: roundHalfUp(heightRounded * aspect), height: heightRounded }
      }
      const bucket = {
        width: resized.width - (resized.width % step),
        height: resized.height - (resized.height % step),
      }
      return { bucket, resized, aspectError: bucket.width / bucket.height - aspect, upscaled: false }
    }
    return { assign, buckets: [] }
  }
  const buckets = makeBucketResolutions(options)
  const aspects = buckets.map((b) => b.width / b.height)
  const assign = (image: Size): BucketAssignment => {
    const aspect = image.width / image.height
    let bucket = buckets.find((b) => b.width === image.width && b.height === image.height)
    if (bucket === undefined) {
      let best = 0
      for (let i = 1; i < aspects.length; i++) {
        if (Math.abs(aspects[i]! - aspect) < Math.abs(aspects[best]! - aspect)) best = i
      }
      bucket = buckets[best]!
    }
    const scale =
      aspect > bucket.width / bucket.height ? bucket.height / image.height : bucket.width / image.width
    const resized = { width: roundHalfUp(image.width * scale), height: roundHalfUp(image.height * scale) }
    return { bucket, resized, aspectError: bucket.width / bucket.height - aspect, upscaled: scale > 1 }
  }
  return { assign, buckets }
}

/** One fixed size (kohya without `--enable_bucket`): the image is scaled to cover it, then cropped. */
export const fixedSizeAssigner = (size: Size): BucketAssigner => {
  const assign = (image: Size): BucketAssignment => {
    const aspect = image.width / image.height
    const scale = aspect > size.width / size.height ? size.height / image.height : size.width / image.width
    const resized = { width: roundHalfUp(image.width * scale), height: roundHalfUp(image.height * scale) }
    return { bucket: size, resized, aspectError: size.width / size.height - aspect, upscaled: scale > 1 }
  }
  return { assign, buckets: [size] }
}
