import { createRng, shuffled } from "../random/rng.js"
import type { Size } from "./bucketResolutions.js"

/** One image as the batcher sees it. */
export interface BucketedSample<A> {
  readonly item: A
  readonly bucket: Size
  /** How many times the image is registered per epoch (the folder's `<repeats>`). */
  readonly repeats: number
}

/** One place in a batch. `key` seeds that sample's own randomness (random crop, caption shuffle). */
export interface PlannedSample<A> {
  readonly item: A
  readonly flip: boolean
  readonly key: ReadonlyArray<number>
}

export interface PlannedBatch<A> {
  readonly bucket: Size
  readonly samples: ReadonlyArray<PlannedSample<A>>
}

export interface EpochPlanOptions {
  readonly batchSize: number
  readonly seed: number
  readonly epoch: number
  /** Flip each sample horizontally with probability ½ (kohya's `flip_aug`). */
  readonly flip?: boolean
  /** Keep the input order (no shuffling), for inspection and debugging. */
  readonly shuffle?: boolean
}

// Separate streams so that, e.g., turning flips on does not change the batch order.
const streamBucketContents = 1
const streamBatchOrder = 2
const streamFlip = 3
const streamSample = 4

const bucketKey = (size: Size) => `${size.width}x${size.height}`

/**
 * The batches of one epoch, as kohya builds them: every image registered `repeats` times in its
 * bucket, each bucket's contents shuffled, cut into batches of `batchSize` (the last one may be
 * short), and the list of batches shuffled — so a batch never mixes buckets. Everything is keyed by
 * (seed, epoch), so the same seed gives the same plan on every machine.
 */
export const planEpoch = <A>(
  samples: ReadonlyArray<BucketedSample<A>>,
  options: EpochPlanOptions,
): ReadonlyArray<PlannedBatch<A>> => {
  const { batchSize, seed, epoch } = options
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batch size must be ≥ 1, got ${batchSize}`)
  const shuffle = options.shuffle ?? true
  const buckets = new Map<string, { size: Size; items: Array<A> }>()
  for (const sample of samples) {
    const key = bucketKey(sample.bucket)
    let entry = buckets.get(key)
    if (entry === undefined) {
      entry = { size: sample.bucket, items: [] }
      buckets.set(key, entry)
    }
    for (let r = 0; r < sample.repeats; r++) entry.items.push(sample.item)
  }
  const ordered = [...buckets.values()].sort(
    (a, b) => a.size.width - b.size.width || a.size.height - b.size.height,
  )
  const unordered: Array<{ bucket: Size; items: ReadonlyArray<A> }> = []
  ordered.forEach((entry, bucketIndex) => {
    const items = shuffle
      ? shuffled(entry.items, createRng(seed, epoch, streamBucketContents, bucketIndex))
      : entry.items
    for (let start = 0; start < items.length; start += batchSize) {
      unordered.push({ bucket: entry.size, items: items.slice(start, start + batchSize) })
    }
  })
  const batches = shuffle ? shuffled(unordered, createRng(seed, epoch, streamBatchOrder)) : unordered
  const flipRng = createRng(seed, epoch, streamFlip)
  return batches.map((batch, batchIndex) => ({
    bucket: batch.bucket,
    samples: batch.items.map((item, slot) => ({
      item,
      flip: options.flip === true && flipRng.nextFloat() < 0.5,
      key: [seed, epoch, streamSample, batchIndex, slot],
    })),
  }))
}

/** Optimizer steps in one epoch: Σ over buckets of ⌈images × repeats ÷ batch⌉. */
export const stepsPerEpoch = (
  samples: ReadonlyArray<{ readonly bucket: Size; readonly repeats: number }>,
  batchSize: number,
) => {
  const perBucket = new Map<string, number>()
  for (const sample of samples) {
    const key = bucketKey(sample.bucket)
    perBucket.set(key, (perBucket.get(key) ?? 0) + sample.repeats)
  }
  let steps = 0
  for (const count of perBucket.values()) steps += Math.ceil(count / batchSize)
  return steps
}

/**
 * kohya's regularisation balance: regularisation images are registered, cycling through them, until
 * their count with repeats equals the training images' count with repeats. The first pass uses each
 * folder's repeats; later passes add one repeat at a time. Surplus images get 0 repeats (unused).
 */
export const balanceRegularization = <S extends { readonly repeats: number }>(
  trainRepeatsTotal: number,
  regularization: ReadonlyArray<S>,
): ReadonlyArray<S & { readonly repeats: number }> => {
  const repeats = regularization.map(() => 0)
  if (regularization.length === 0) return []
  let registered = 0
  let firstLoop = true
  while (registered < trainRepeatsTotal) {
    for (let i = 0; i < regularization.length && registered < trainRepeatsTotal; i++) {
      const add = firstLoop ? regularization[i]!.repeats : 1
      repeats[i]! += add
      registered += add
    }
    firstLoop = false
  }
  return regularization.map((sample, i) => ({ ...sample, repeats: repeats[i]! }))
}
