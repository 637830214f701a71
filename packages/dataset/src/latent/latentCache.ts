import { createHash } from "node:crypto"
import { readdir, readFile, rm } from "node:fs/promises"
import { basename, join } from "node:path"
import {
  fromHostTensor,
  memorySink,
  memorySource,
  openSafetensors,
  type StoredTensor,
  tensorsInMemory,
  toHostTensor,
  writeSafetensors,
} from "@danlu/core/io"
import { Effect } from "effect"
import type { BucketAssignment } from "../buckets/assignBucket.js"
import { type CropOrigin, cropOrigin } from "../buckets/crop.js"
import { DatasetError, describeCause, describeImageFailure } from "../errors.js"
import { openImage, type Rgb, white } from "../image/decode.js"
import { writeFileAtomic } from "../io/atomicWrite.js"
import { toBucket } from "../prepare/prepareImage.js"
import { latentCacheKey } from "./latentKey.js"
import { flipHorizontally, type PixelTensor, toPixelTensor } from "./pixels.js"

/** Latents as the VAE returns them: float32, row-major. */
export interface LatentTensor {
  readonly shape: ReadonlyArray<number>
  readonly data: Float32Array
}

/** The VAE, as the cache sees it: a hash that names its weights, and its encoder. */
export interface LatentEncoder<E> {
  readonly vaeHash: string
  /** [3, H, W] pixels in [-1, 1] to latents (for SD: [4, H/8, W/8], already scaled as the trainer wants). */
  readonly encode: (pixels: PixelTensor) => Effect.Effect<LatentTensor, E>
}

export interface LatentRequest {
  readonly source: string
  /** The image's bucket and the size it is scaled to first (from the bucket assigner). */
  readonly assignment: BucketAssignment
  /** Where the bucket is cut from the scaled image; the centre by default. */
  readonly crop?: CropOrigin
  /** Also cache the latents of the mirrored image (kohya's `flip_aug`). */
  readonly flip?: boolean
  /** Also cache the alpha channel as a loss mask at latent size (kohya's `alpha_mask`). */
  readonly alphaMask?: boolean
  readonly background?: Rgb
}

export interface CachedLatents {
  readonly key: string
  readonly path: string
  readonly latent: LatentTensor
  readonly flipped: LatentTensor | undefined
  /** [1, h, w] at latent size in [0, 1], when asked for: the alpha channel, area-averaged as kohya does. */
  readonly mask: LatentTensor | undefined
  /** How many times this call ran the VAE: 0 means everything came from the cache. */
  readonly encoded: number
}

const latentName = "latent"
const flippedName = "latent_flipped"
const maskName = "alpha_mask"

/** The alpha channel of the bucket's crop (255 where the image has none), one byte per pixel. */
const bucketAlpha = (bytes: Buffer, assignment: BucketAssignment, crop: CropOrigin) =>
  openImage(bytes)
    .ensureAlpha()
    .extractChannel(3)
    .resize(assignment.resized.width, assignment.resized.height, { fit: "fill", kernel: "lanczos3" })
    .extract({
      left: crop.left,
      top: crop.top,
      width: assignment.bucket.width,
      height: assignment.bucket.height,
    })
    .raw({ depth: "uchar" })
    .toBuffer()

/**
 * Alpha bytes [H, W] to the mask the loss is multiplied by: alpha / 255 averaged over each latent
 * pixel's block (torch's `interpolate(mode="area")` at an integer factor, as kohya's masked loss does).
 */
export const alphaToLatentMask = (
  alpha: Uint8Array,
  width: number,
  height: number,
  latentWidth: number,
  latentHeight: number,
): LatentTensor => {
  const fx = width / latentWidth
  const fy = height / latentHeight
  const out = new Float32Array(latentWidth * latentHeight)
  for (let y = 0; y < latentHeight; y++) {
    for (let x = 0; x < latentWidth; x++) {
      let sum = 0
      for (let dy = 0; dy < fy; dy++)
        for (let dx = 0; dx < fx; dx++) sum += alpha[(y * fy + dy) * width + x * fx + dx]!
      out[y * latentWidth + x] = sum / (255 * fx * fy)
    }
  }
  return { shape: [1, latentHeight, latentWidth], data: out }
}

const readOptional = (path: string) =>
  readFile(path).then(
    (bytes) => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    () => undefined,
  )

const asLatent = (stored: StoredTensor): LatentTensor | undefined => {
  const host = toHostTensor(stored)
  return host.data instanceof Float32Array ? { shape: host.shape, data: host.data } : undefined
}

/**
 * The tensors of a cache file. A file that cannot be parsed, or holds something other than F32
 * latents, counts as absent and is rewritten.
 */
const readLatentFile = (path: string, bytes: Uint8Array | undefined) =>
  Effect.gen(function* () {
    if (bytes === undefined) return {}
    const file = yield* openSafetensors(memorySource(bytes, path))
    const found: Record<string, LatentTensor> = {}
    for (const info of file.tensors) {
      const stored = yield* file.read(info.name)
      const latent = yield* Effect.try(() => asLatent(stored))
      if (latent !== undefined) found[info.name] = latent
    }
    return found
  }).pipe(Effect.orElseSucceed((): Record<string, LatentTensor> => ({})))

const latentFileBytes = (
  path: string,
  tensors: Readonly<Record<string, LatentTensor>>,
  metadata: Record<string, string>,
) =>
  Effect.gen(function* () {
    const stored: Record<string, StoredTensor> = {}
    for (const [name, tensor] of Object.entries(tensors)) {
      stored[name] = fromHostTensor({ dtype: "f32", shape: tensor.shape, data: tensor.data })
    }
    const sink = memorySink(path)
    yield* writeSafetensors(sink, tensorsInMemory(stored, metadata))
    return sink.bytes()
  }).pipe(
    Effect.mapError(
      (cause) => new DatasetError({ message: `cannot encode ${path}: ${cause.message}`, path }),
    ),
  )

/**
 * VAE latents on disk, one safetensors file per (image content, VAE, bucket, scaled size, crop,
 * background), holding `latent` and, once asked for, `latent_flipped` and `alpha_mask`. Because the file name is a
 * hash of all of these, editing an image or changing the VAE misses exactly the entries it affects;
 * {@link LatentCache.prune} removes what no longer matches.
 */
export interface LatentCache<E> {
  readonly get: (request: LatentRequest) => Effect.Effect<CachedLatents, DatasetError | E>
  /** Deletes cache files whose key is not in `keep`; returns how many. */
  readonly prune: (keep: ReadonlySet<string>) => Effect.Effect<number, DatasetError>
}

export const makeLatentCache = <E>(dir: string, encoder: LatentEncoder<E>): LatentCache<E> => {
  const pathOf = (key: string) => join(dir, key.slice(0, 2), `${key}.safetensors`)

  const get = (request: LatentRequest): Effect.Effect<CachedLatents, DatasetError | E> =>
    Effect.gen(function* () {
      const { source, assignment } = request
      const background = request.background ?? white
      const crop = request.crop ?? cropOrigin(assignment.resized, assignment.bucket)
      const bytes = yield* Effect.tryPromise({
        try: () => readFile(source),
        catch: (cause) =>
          new DatasetError({ message: `cannot read ${source}: ${describeCause(cause)}`, path: source }),
      })
      const contentHash = createHash("sha256").update(bytes).digest("hex")
      const key = latentCacheKey({
        contentHash,
        vaeHash: encoder.vaeHash,
        bucket: assignment.bucket,
        resized: assignment.resized,
        crop,
        background,
      })
      const path = pathOf(key)
      const cached = yield* readLatentFile(path, yield* Effect.promise(() => readOptional(path)))
      let latent = cached[latentName]
      let flipped = cached[flippedName]
      let mask = cached[maskName]
      const wantFlip = request.flip === true
      const wantMask = request.alphaMask === true
      if (latent !== undefined && (flipped !== undefined || !wantFlip) && (mask !== undefined || !wantMask)) {
        return { key, path, latent, flipped, mask, encoded: 0 }
      }
      const pixels = yield* Effect.tryPromise({
        try: async () => {
          const { data, info } = await toBucket(bytes, assignment, crop, background)
            .raw({ depth: "uchar" })
            .toBuffer({ resolveWithObject: true })
          return toPixelTensor({ width: info.width, height: info.height, channels: 3, data })
        },
        catch: (cause) =>
          new DatasetError({
            message: `cannot decode ${source}: ${describeImageFailure(cause)}`,
            path: source,
          }),
      })
      let encoded = 0
      if (latent === undefined) {
        latent = yield* encoder.encode(pixels)
        encoded++
      }
      if (wantFlip && flipped === undefined) {
        flipped = yield* encoder.encode(flipHorizontally(pixels))
        encoded++
      }
      if (wantMask && mask === undefined) {
        const alpha = yield* Effect.tryPromise({
          try: () => bucketAlpha(bytes, assignment, crop),
          catch: (cause) =>
            new DatasetError({
              message: `cannot read the alpha channel of ${source}: ${describeImageFailure(cause)}`,
              path: source,
            }),
        })
        const [, latentHeight, latentWidth] = latent.shape
        mask = alphaToLatentMask(
          alpha,
          assignment.bucket.width,
          assignment.bucket.height,
          latentWidth!,
          latentHeight!,
        )
      }
      const tensors: Record<string, LatentTensor> = { [latentName]: latent }
      if (flipped !== undefined) tensors[flippedName] = flipped
      if (mask !== undefined) tensors[maskName] = mask
      const file = yield* latentFileBytes(path, tensors, {
        format: "danlu-latents/1",
        source: basename(source),
        content_sha256: contentHash,
        vae_hash: encoder.vaeHash,
        bucket: `${assignment.bucket.width}x${assignment.bucket.height}`,
        resized: `${assignment.resized.width}x${assignment.resized.height}`,
        crop: `${crop.left},${crop.top}`,
      })
      yield* Effect.uninterruptible(
        Effect.tryPromise({
          try: () => writeFileAtomic(path, file),
          catch: (cause) =>
            new DatasetError({ message: `cannot write ${path}: ${describeCause(cause)}`, path }),
        }),
      )
      return { key, path, latent, flipped, mask, encoded }
    })

  const prune = (keep: ReadonlySet<string>): Effect.Effect<number, DatasetError> =>
    Effect.tryPromise({
      try: async () => {
        let removed = 0
        let entries: Array<{ name: string; parentPath: string; isFile(): boolean }>
        try {
          entries = await readdir(dir, { recursive: true, withFileTypes: true })
        } catch {
          return 0
        }
        for (const entry of entries) {
          if (!entry.isFile() || !entry.name.endsWith(".safetensors")) continue
          if (keep.has(entry.name.slice(0, -".safetensors".length))) continue
          await rm(join(entry.parentPath, entry.name), { force: true })
          removed++
        }
        return removed
      },
      catch: (cause) =>
        new DatasetError({
          message: `cannot clean the latent cache ${dir}: ${describeCause(cause)}`,
          path: dir,
        }),
    })

  return { get, prune }
}
