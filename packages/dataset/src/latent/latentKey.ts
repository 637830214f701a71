import { createHash } from "node:crypto"
import type { Size } from "../buckets/bucketResolutions.js"
import type { CropOrigin } from "../buckets/crop.js"
import type { Rgb } from "../image/decode.js"

/** Everything that decides a latent's value. Two equal keys must give the same latent. */
export interface LatentKeyParts {
  /** SHA-256 of the source file's bytes (not its path or time: a copy hits, an edit misses). */
  readonly contentHash: string
  /** Identifies the VAE weights. */
  readonly vaeHash: string
  readonly bucket: Size
  readonly resized: Size
  readonly crop: CropOrigin
  readonly background: Rgb
}

/** Bump when the pixel pipeline changes, so old entries stop matching. */
const pipelineVersion = 1

/** A hex SHA-256 of the parts in a fixed order; the cache file's name. */
export const latentCacheKey = (parts: LatentKeyParts): string =>
  createHash("sha256")
    .update(
      JSON.stringify([
        pipelineVersion,
        parts.contentHash,
        parts.vaeHash,
        [parts.bucket.width, parts.bucket.height],
        [parts.resized.width, parts.resized.height],
        [parts.crop.left, parts.crop.top],
        [parts.background.r, parts.background.g, parts.background.b],
      ]),
    )
    .digest("hex")
