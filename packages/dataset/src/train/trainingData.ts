import type { BatchSource, TrainBatch, TrainSample } from "@danlu/core"
import { Effect } from "effect"
import type { BucketAssignment } from "../buckets/assignBucket.js"
import type { Size } from "../buckets/bucketResolutions.js"
import { cropOrigin } from "../buckets/crop.js"
import { balanceRegularization, planEpoch } from "../buckets/epochPlan.js"
import { makeAssigner, type Sizing } from "../buckets/sizing.js"
import { type CaptionOptions, processCaption } from "../captions/captionPipeline.js"
import { readCaption } from "../captions/readCaption.js"
import { tagFrequency } from "../captions/tagFrequency.js"
import { inspectImage } from "../check/inspectImage.js"
import { DatasetError, describeCause } from "../errors.js"
import { type Concept, scanTrainingFolder } from "../folders/trainingFolder.js"
import { type LatentEncoder, type LatentTensor, makeLatentCache } from "../latent/latentCache.js"
import { createRng, shuffled } from "../random/rng.js"

export interface TrainingDataOptions<E> {
  /** kohya's `train_data_dir`: folders named `<repeats>_<name>` (or the guide's `<repeats>-<name>`). */
  readonly trainDataDir: string
  /** kohya's `reg_data_dir`. */
  readonly regDataDir?: string | undefined
  readonly captionExtension: string
  readonly sizing: Sizing
  readonly batchSize: number
  readonly seed: number
  /** kohya's `flip_aug`: each sample is mirrored with probability ½ (both latents are cached). */
  readonly flipAug: boolean
  readonly caption: CaptionOptions
  /** kohya's `prior_loss_weight` for regularisation images. */
  readonly priorLossWeight: number
  /** Where encoded latents are kept between runs. */
  readonly cacheDir: string
  readonly encoder: LatentEncoder<E>
  /** Share of the training images held out for the validation loss (0 = none). */
  readonly validationSplit?: number
  /** Called after each image's latents are ready (cached or encoded). */
  readonly onLatent?: (done: number, total: number, encoded: boolean) => void
}

/** One image as the run uses it. */
export interface TrainingImage {
  readonly path: string
  readonly concept: Concept
  readonly caption: string
  readonly assignment: BucketAssignment
  readonly crop: { readonly left: number; readonly top: number }
  readonly original: Size
  readonly latent: LatentTensor
  readonly flipped: LatentTensor | undefined
}

/** What the run trains on, plus what kohya writes into the LoRA's metadata about it. */
export interface TrainingData<E> extends BatchSource<E> {
  readonly images: ReadonlyArray<TrainingImage>
  readonly regularizationImages: ReadonlyArray<TrainingImage>
  readonly validationImages: ReadonlyArray<TrainingImage>
  /** `ss_tag_frequency`: per concept folder, tag → count. */
  readonly tagFrequency: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** `ss_dataset_dirs`: per concept folder, its image count and repeats. */
  readonly datasetDirs: Readonly<Record<string, { readonly n_repeats: number; readonly img_count: number }>>
  /** `ss_reg_dataset_dirs`, likewise for regularisation folders. */
  readonly regDatasetDirs: Readonly<
    Record<string, { readonly n_repeats: number; readonly img_count: number }>
  >
  /** `ss_bucket_info`: bucket sizes and how many samples (with repeats) each holds. */
  readonly bucketInfo: {
    readonly buckets: Readonly<
      Record<string, { readonly resolution: readonly [number, number]; readonly count: number }>
    >
    readonly mean_img_ar_error: number
  }
  /** Images × repeats per epoch (kohya's `num_train_images`). */
  readonly trainImageCount: number
  readonly regImageCount: number
}

const failure = (path: string, what: string) => (cause: unknown) =>
  new DatasetError({ message: `${what} ${path}: ${describeCause(cause)}`, path })

/** The caption an image trains with: its caption file, or the folder's class tokens as kohya falls back. */
const captionOf = (path: string, concept: Concept, extension: string) =>
  Effect.tryPromise({
    try: () => readCaption(path, extension),
    catch: failure(path, "cannot read the caption of"),
  }).pipe(
    Effect.flatMap((lookup) =>
      lookup.kind === "found"
        ? Effect.succeed(lookup.text)
        : lookup.kind === "unreadable"
          ? Effect.fail(
              new DatasetError({
                message: `cannot read caption ${lookup.path}: ${lookup.reason}`,
                path: lookup.path,
              }),
            )
          : Effect.succeed(concept.name),
    ),
  )

const sizeKey = (size: Size) => `${size.width}x${size.height}`

/**
 * Scans kohya-style training (and regularisation) folders, assigns buckets, encodes every image's latents
 * through the cache, and serves the run's batches: kohya's epoch plan (repeats, buckets, seeded shuffle,
 * flips) with the caption pipeline applied per sample from a key of (seed, epoch, batch, slot).
 */
export const loadTrainingData = <E>(
  options: TrainingDataOptions<E>,
): Effect.Effect<TrainingData<E | DatasetError>, E | DatasetError> =>
  Effect.gen(function* () {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1)
      return yield* new DatasetError({
        message: `the batch size must be a whole number ≥ 1, got ${options.batchSize}`,
      })
    const folder = yield* scanTrainingFolder(
      options.trainDataDir,
      options.regDataDir === undefined ? {} : { regularizationRoot: options.regDataDir },
    )
    const trainConcepts = folder.concepts.filter((c) => !c.isRegularization)
    if (trainConcepts.every((c) => c.images.length === 0)) {
      return yield* new DatasetError({
        message: `${options.trainDataDir} has no images in <repeats>_<name> folders (e.g. ${options.trainDataDir}/10_mychar/)`,
        path: options.trainDataDir,
      })
    }
    const assigner = makeAssigner(options.sizing)
    const cache = makeLatentCache(options.cacheDir, options.encoder)
    const all = folder.concepts.flatMap((concept) => concept.images.map((path) => ({ path, concept })))
    const images: Array<TrainingImage> = []
    let done = 0
    for (const { path, concept } of all) {
      const inspection = yield* Effect.tryPromise({
        try: () => inspectImage(path),
        catch: failure(path, "cannot read"),
      })
      if (
        inspection.decodeError !== undefined ||
        inspection.width === undefined ||
        inspection.height === undefined
      ) {
        return yield* new DatasetError({
          message: `cannot decode ${path}: ${inspection.decodeError ?? "no size"}; fix or remove it (danlu dataset check lists every problem)`,
          path,
        })
      }
      const original = { width: inspection.width, height: inspection.height }
      const assignment = assigner.assign(original)
      if (assignment.bucket.width < 8 || assignment.bucket.height < 8) {
        return yield* new DatasetError({
          message: `${path} (${original.width}×${original.height}) is too small for this bucket setting`,
          path,
        })
      }
      const crop = cropOrigin(assignment.resized, assignment.bucket)
      const caption = yield* captionOf(path, concept, options.captionExtension)
      const cached = yield* cache.get({ source: path, assignment, crop, flip: options.flipAug })
      done++
      options.onLatent?.(done, all.length, cached.encoded > 0)
      images.push({
        path,
        concept,
        caption,
        assignment,
        crop,
        original,
        latent: cached.latent,
        flipped: cached.flipped,
      })
    }

    const split = options.validationSplit ?? 0
    if (split < 0 || split >= 1)
      return yield* new DatasetError({ message: `the validation split must be in [0, 1), got ${split}` })
    const training = images.filter((image) => !image.concept.isRegularization)
    const heldOutCount = Math.floor(training.length * split)
    const heldOut = new Set(shuffled(training, createRng(options.seed, 0x76616c)).slice(0, heldOutCount))
    const trainImages = training.filter((image) => !heldOut.has(image))
    const validationImages = training.filter((image) => heldOut.has(image))
    const regImages = images.filter((image) => image.concept.isRegularization)

    const trainRepeats = trainImages.reduce((sum, image) => sum + image.concept.repeats, 0)
    const reg = balanceRegularization(
      trainRepeats,
      regImages.map((image) => ({ image, repeats: image.concept.repeats })),
    ).filter((r) => r.repeats > 0)
    const entries = [
      ...trainImages.map((image) => ({
        item: { image, lossWeight: 1 },
        bucket: image.assignment.bucket,
        repeats: image.concept.repeats,
      })),
      ...reg.map((r) => ({
        item: { image: r.image, lossWeight: options.priorLossWeight },
        bucket: r.image.assignment.bucket,
        repeats: r.repeats,
      })),
    ]

    const sampleOf = (
      image: TrainingImage,
      lossWeight: number,
      caption: string,
      flip: boolean,
    ): TrainSample => ({
      latent: flip && image.flipped ? image.flipped.data : image.latent.data,
      caption,
      lossWeight,
      size: { originalSize: image.original, crop: image.crop, targetSize: image.assignment.bucket },
    })
    const latentShapeOf = (image: TrainingImage) =>
      image.latent.shape as unknown as readonly [number, number, number]

    const plans = new Map<number, ReturnType<typeof planEpoch<(typeof entries)[number]["item"]>>>()
    const planOf = (epoch: number) => {
      let plan = plans.get(epoch)
      if (plan === undefined) {
        plan = planEpoch(entries, {
          batchSize: options.batchSize,
          seed: options.seed,
          epoch,
          flip: options.flipAug,
        })
        plans.clear()
        plans.set(epoch, plan)
      }
      return plan
    }
    const first = planOf(1)
    const shapeKeys = new Map<string, { latentShape: readonly [number, number, number]; batch: number }>()
    for (const planned of first) {
      const latentShape = latentShapeOf(planned.samples[0]!.item.image)
      shapeKeys.set(`${latentShape.join("x")}:${planned.samples.length}`, {
        latentShape,
        batch: planned.samples.length,
      })
    }

    const batch = (epoch: number, index: number): Effect.Effect<TrainBatch, DatasetError> =>
      Effect.suspend(() => {
        const plan = planOf(epoch)
        const planned = plan[index]
        if (planned === undefined)
          return Effect.fail(new DatasetError({ message: `epoch ${epoch} has no batch ${index}` }))
        const samples = planned.samples.map((sample) => {
          const { image, lossWeight } = sample.item
          const caption = processCaption(image.caption, options.caption, epoch, createRng(...sample.key))
          return sampleOf(image, lossWeight, caption, sample.flip)
        })
        return Effect.succeed({
          bucket: planned.bucket,
          latentShape: latentShapeOf(planned.samples[0]!.item.image),
          samples,
        })
      })

    const validationBatches: Array<TrainBatch> = []
    const byBucket = new Map<string, Array<TrainingImage>>()
    for (const image of validationImages) {
      const key = sizeKey(image.assignment.bucket)
      byBucket.set(key, [...(byBucket.get(key) ?? []), image])
    }
    for (const group of byBucket.values()) {
      for (let start = 0; start < group.length; start += options.batchSize) {
        const slice = group.slice(start, start + options.batchSize)
        validationBatches.push({
          bucket: slice[0]!.assignment.bucket,
          latentShape: latentShapeOf(slice[0]!),
          samples: slice.map((image) => sampleOf(image, 1, image.caption, false)),
        })
      }
    }
    for (const b of validationBatches)
      shapeKeys.set(`${b.latentShape.join("x")}:${b.samples.length}`, {
        latentShape: b.latentShape,
        batch: b.samples.length,
      })

    const bucketCounts = new Map<string, { resolution: readonly [number, number]; count: number }>()
    for (const entry of entries) {
      const key = sizeKey(entry.bucket)
      const seen = bucketCounts.get(key) ?? {
        resolution: [entry.bucket.width, entry.bucket.height] as const,
        count: 0,
      }
      bucketCounts.set(key, { ...seen, count: seen.count + entry.repeats })
    }
    const ordered = [...bucketCounts.values()].sort(
      (a, b) => a.resolution[0] - b.resolution[0] || a.resolution[1] - b.resolution[1],
    )
    const meanArError =
      images.length === 0
        ? 0
        : images.reduce((sum, image) => sum + Math.abs(image.assignment.aspectError), 0) / images.length

    const frequency: Record<string, Record<string, number>> = {}
    const dirs: Record<string, { n_repeats: number; img_count: number }> = {}
    const regDirs: Record<string, { n_repeats: number; img_count: number }> = {}
    for (const concept of folder.concepts) {
      const captions = images.filter((image) => image.concept === concept).map((image) => image.caption)
      frequency[concept.folderName] = Object.fromEntries(tagFrequency(captions).map((t) => [t.tag, t.count]))
      const entry = { n_repeats: concept.repeats, img_count: concept.images.length }
      if (concept.isRegularization) regDirs[concept.folderName] = entry
      else dirs[concept.folderName] = entry
    }

    return {
      batchesPerEpoch: first.length,
      batchSize: options.batchSize,
      shapes: [...shapeKeys.values()],
      batch,
      validation: validationBatches,
      images: trainImages,
      regularizationImages: regImages,
      validationImages,
      tagFrequency: frequency,
      datasetDirs: dirs,
      regDatasetDirs: regDirs,
      bucketInfo: {
        buckets: Object.fromEntries(ordered.map((b, i) => [String(i), b])),
        mean_img_ar_error: meanArError,
      },
      trainImageCount: trainRepeats,
      regImageCount: reg.reduce((sum, r) => sum + r.repeats, 0),
    }
  })
