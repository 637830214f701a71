import type { Rng } from "../random/rng.js"
import type { Size } from "./bucketResolutions.js"

/** The top-left corner of the bucket-sized window cut from the resized image. */
export interface CropOrigin {
  readonly left: number
  readonly top: number
}

/**
 * kohya's `trim_and_resize_if_required`: the overflow on each axis is trimmed from the centre
 * (`trim // 2`), or at a uniformly random offset in [0, trim] when `rng` is given (random crop).
 */
export const cropOrigin = (resized: Size, bucket: Size, rng?: Rng): CropOrigin => {
  const offset = (trim: number) =>
    trim <= 0 ? 0 : rng === undefined ? Math.floor(trim / 2) : rng.nextInt(trim + 1)
  const left = offset(resized.width - bucket.width)
  const top = offset(resized.height - bucket.height)
  return { left, top }
}
