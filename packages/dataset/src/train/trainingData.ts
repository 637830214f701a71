import { stat } from "node:fs/promises"
import { basename, dirname } from "node:path"
import { type BatchSource, Progress, progressCounter, type TrainBatch, type TrainSample } from "@danlu/core"
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
import { scanFolder } from "../image/listImages.js"
import { type LatentEncoder, type LatentTensor, makeLatentCache } from "../latent/latentCache.js"
import { createRng, shuffled } from "../random/rng.js"

/**
 * One folder of images with its own options: a `<repeats>_<name>` folder of `train_data_dir` (or
 * `reg_data_dir`) with the run's options, or a `[[datasets.subsets]]` of kohya's dataset_config.
 */
export interface TrainingSubset {
  /** The folder, its repeats, whether it holds regularisation images; `name` is the fallback caption. */
  readonly concept: Concept
  readonly captionExtension: string
  readonly caption: CaptionOptions
  /** kohya's `flip_aug`: each sample is mirrored with probability ½ (both latents are cached). */
  readonly flipAug: boolean
  /** kohya's `alpha_mask`: the loss is weighted by the image's alpha channel. */
  readonly alphaMask: boolean
  /** Share of the subset's images held out for the validation loss (0 = none). */
  readonly validationSplit: number
}

/** One `[[datasets]]` (or the whole of `train_data_dir`): its size options, its batch size, its subsets. */
export interface TrainingDatasetSpec {
  readonly sizing: Sizing
  readonly batchSize: number
  readonly subsets: ReadonlyArray<TrainingSubset>
}

export interface TrainingDataOptions<E> {
  /** kohya's datasets: each has its own buckets and batch size; their batches are shuffled together. */
  readonly datasets: ReadonlyArray<TrainingDatasetSpec>
  readonly seed: number
  /** kohya's `prior_loss_weight` for regularisation images. */
  readonly priorLossWeight: number
  /** Where encoded latents are kept between runs. */
  readonly cacheDir: string
  readonly encoder: LatentEncoder<E>
}

/** One image as the run uses it. */
export interface TrainingImage {
  readonly path: string
  readonly concept: Concept
  readonly subset: TrainingSubset
  /** Index of its dataset in {@link TrainingDataOptions.datasets}. */
  readonly dataset: number
  readonly caption: string
  readonly assignment: BucketAssignment
  readonly crop: { readonly left: number; readonly top: number }
  readonly original: Size
  readonly latent: LatentTensor
  readonly flipped: LatentTensor | undefined
  /** [1, h, w] loss mask from the alpha channel, with the subset's `alphaMask`. */
  readonly mask: LatentTensor | undefined
}

type DirsInfo = Readonly<Record<string, { readonly n_repeats: number; readonly img_count: number }>>

/** kohya's `bucket_info`: bucket sizes and how many samples (with repeats) each holds. */
export interface BucketInfo {
  readonly buckets: Readonly<
    Record<string, { readonly resolution: readonly [number, number]; readonly count: number }>
  >
  readonly mean_img_ar_error: number
}

/** What kohya writes about one dataset (an entry of `ss_datasets`). */
export interface DatasetSummary {
  /** Images × repeats per epoch (`num_train_images`). */
  readonly trainImageCount: number
  readonly regImageCount: number
  readonly tagFrequency: Readonly<Record<string, Readonly<Record<string, number>>>>
  readonly bucketInfo: BucketInfo
  /** Per subset, in order: its image count. */
  readonly subsetImageCounts: ReadonlyArray<number>
}

/** What the run trains on, plus what kohya writes into the LoRA's metadata about it. */
export interface TrainingData<E> extends BatchSource<E> {
  readonly images: ReadonlyArray<TrainingImage>
  readonly regularizationImages: ReadonlyArray<TrainingImage>
  readonly validationImages: ReadonlyArray<TrainingImage>
  /** `ss_tag_frequency`: per folder, tag → count (the first dataset's entry wins, as kohya merges). */
  readonly tagFrequency: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** `ss_dataset_dirs`: per training folder, its image count and repeats. */
  readonly datasetDirs: DirsInfo
  /** `ss_reg_dataset_dirs`, likewise for regularisation folders. */
  readonly regDatasetDirs: DirsInfo
  /** `ss_bucket_info` of the first dataset. */
  readonly bucketInfo: BucketInfo
  /** Per dataset, what `ss_datasets` says about it. */
  readonly datasets: ReadonlyArray<DatasetSummary>
  /** Images × repeats per epoch (kohya's `num_train_images`), all datasets. */
  readonly trainImageCount: number
  readonly regImageCount: number
  /** Some subset weights the loss with its alpha channel: every sample then has a mask. */
  readonly masked: boolean
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

/** A [1, h, w] mask mirrored left to right, as kohya flips the alpha mask with the image. */
const mirrorMask = (mask: LatentTensor): Float32Array => {
  const [, height, width] = mask.shape as [number, number, number]
  const out = new Float32Array(mask.data.length)
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) out[y * width + x] = mask.data[y * width + width - 1 - x]!
  return out
}

// Streams of the run's seed; 4 is planEpoch's per-sample stream, which the caption pipeline keeps using.
const streamSample = 4
const streamDatasetOrder = 5
const streamValidation = 0x76616c

/** The seed of dataset `index`'s epoch plan: the run's own for the first, so one dataset plans as before. */
const datasetSeed = (seed: number, index: number) =>
  index === 0 ? seed : createRng(seed, streamDatasetOrder, index).nextUint32()

const bucketInfoOf = (
  entries: ReadonlyArray<{ readonly bucket: Size; readonly repeats: number }>,
  images: ReadonlyArray<TrainingImage>,
): BucketInfo => {
  const counts = new Map<string, { resolution: readonly [number, number]; count: number }>()
  for (const entry of entries) {
    const key = sizeKey(entry.bucket)
    const seen = counts.get(key) ?? {
      resolution: [entry.bucket.width, entry.bucket.height] as const,
      count: 0,
    }
    counts.set(key, { ...seen, count: seen.count + entry.repeats })
  }
  const ordered = [...counts.values()].sort(
    (a, b) => a.resolution[0] - b.resolution[0] || a.resolution[1] - b.resolution[1],
  )
  return {
    buckets: Object.fromEntries(ordered.map((b, i) => [String(i), b])),
    mean_img_ar_error:
      images.length === 0
        ? 0
        : images.reduce((sum, image) => sum + Math.abs(image.assignment.aspectError), 0) / images.length,
  }
}

/**
 * The run's options as one dataset over kohya's folders: each `<repeats>_<name>` folder of
 * `trainDataDir` (and of `regDataDir`) a subset with the same caption, flip, mask and split options.
 */
export const foldersAsDataset = (options: {
  readonly trainDataDir: string
  readonly regDataDir?: string | undefined
  readonly sizing: Sizing
  readonly batchSize: number
  readonly captionExtension: string
  readonly caption: CaptionOptions
  readonly flipAug: boolean
  readonly alphaMask: boolean
  readonly validationSplit: number
}): Effect.Effect<TrainingDatasetSpec, DatasetError> =>
  Effect.gen(function* () {
    const folder = yield* scanTrainingFolder(
      options.trainDataDir,
      options.regDataDir === undefined ? {} : { regularizationRoot: options.regDataDir },
    )
    if (folder.concepts.filter((c) => !c.isRegularization).every((c) => c.images.length === 0)) {
      return yield* new DatasetError({
        message: `${options.trainDataDir} has no images in <repeats>_<name> folders (e.g. ${options.trainDataDir}/10_mychar/)`,
        path: options.trainDataDir,
      })
    }
    return {
      sizing: options.sizing,
      batchSize: options.batchSize,
      subsets: folder.concepts.map((concept) => ({
        concept,
        captionExtension: options.captionExtension,
        caption: options.caption,
        flipAug: options.flipAug,
        alphaMask: options.alphaMask,
        validationSplit: options.validationSplit,
      })),
    }
  })

/**
 * kohya's `[[datasets.subsets]]` folder as a concept: its images (directly inside, as kohya reads
 * them), its repeats, and `class_tokens` as the caption of images without a caption file.
 */
export const subsetFolder = (subset: {
  readonly imageDir: string
  readonly numRepeats: number
  readonly classTokens?: string | undefined
  readonly isReg: boolean
}): Effect.Effect<Concept, DatasetError> =>
  Effect.gen(function* () {
    const path = subset.imageDir
    const info = yield* Effect.tryPromise({
      try: () => stat(path),
      catch: (cause) =>
        new DatasetError({
          message:
            (cause as NodeJS.ErrnoException).code === "ENOENT"
              ? `dataset_config image_dir ${path} does not exist; check the path`
              : `dataset_config image_dir ${path} cannot be read: ${describeCause(cause)}`,
          path,
        }),
    })
    if (!info.isDirectory())
      return yield* new DatasetError({
        message: `dataset_config image_dir ${path} is a file, not a folder`,
        path,
      })
    const listing = yield* scanFolder(path, { recursive: true })
    const inFolder = (file: string) => dirname(file) === path
    return {
      path,
      folderName: basename(path),
      name: subset.classTokens ?? "",
      repeats: subset.numRepeats,
      separator: "_",
      isRegularization: subset.isReg,
      images: listing.images.filter(inFolder),
      unsupportedImages: listing.unsupportedImages.filter(inFolder),
      nestedImages: listing.images.filter((file) => !inFolder(file)),
      otherFiles: listing.otherFiles.filter(inFolder),
    }
  })

/**
 * Assigns buckets to every image of every dataset, encodes their latents (and alpha masks) through the
 * cache, and serves the run's batches as kohya does: each dataset's epoch plan (repeats, buckets, seeded
 * shuffle, flips) with its own batch size, the batches of all datasets shuffled together, and each
 * sample's caption pipeline applied from a key of (seed, epoch, batch, slot).
 */
export const loadTrainingData = <E>(
  options: TrainingDataOptions<E>,
): Effect.Effect<TrainingData<E | DatasetError>, E | DatasetError> =>
  Effect.gen(function* () {
    if (options.datasets.length === 0) return yield* new DatasetError({ message: "no dataset to train on" })
    for (const spec of options.datasets) {
      if (!Number.isInteger(spec.batchSize) || spec.batchSize < 1)
        return yield* new DatasetError({
          message: `the batch size must be a whole number ≥ 1, got ${spec.batchSize}`,
        })
    }
    const trainingSubsets = options.datasets
      .flatMap((d) => d.subsets)
      .filter((s) => !s.concept.isRegularization)
    if (trainingSubsets.every((s) => s.concept.images.length === 0)) {
      const dirs = trainingSubsets.map((s) => s.concept.path).join(", ")
      return yield* new DatasetError({ message: `no training images in ${dirs || "the datasets"}` })
    }
    const cache = makeLatentCache(options.cacheDir, options.encoder)
    const all = options.datasets.flatMap((spec, dataset) => {
      const assigner = makeAssigner(spec.sizing)
      return spec.subsets.flatMap((subset) =>
        subset.concept.images.map((path) => ({ path, subset, dataset, assigner })),
      )
    })
    const images: Array<TrainingImage> = []
    // Each image's latents are ready (read from the cache or encoded) as one unit of the "latents" task.
    const latents = progressCounter(yield* Progress, { task: "latents", unit: "image", total: all.length })
    latents.start()
    for (const { path, subset, dataset, assigner } of all) {
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
      const caption = yield* captionOf(path, subset.concept, subset.captionExtension)
      const cached = yield* cache.get({
        source: path,
        assignment,
        crop,
        flip: subset.flipAug,
        alphaMask: subset.alphaMask,
      })
      const encoded = cached.encoded > 0
      latents.advance(`${basename(path)} ${encoded ? "encoded" : "cached"}`, { path, encoded })
      images.push({
        path,
        concept: subset.concept,
        subset,
        dataset,
        caption,
        assignment,
        crop,
        original,
        latent: cached.latent,
        flipped: cached.flipped,
        mask: subset.alphaMask ? cached.mask : undefined,
      })
    }

    const heldOut = new Set<TrainingImage>()
    for (const [datasetIndex, spec] of options.datasets.entries()) {
      for (const [subsetIndex, subset] of spec.subsets.entries()) {
        const split = subset.validationSplit
        if (split < 0 || split >= 1)
          return yield* new DatasetError({ message: `the validation split must be in [0, 1), got ${split}` })
        if (subset.concept.isRegularization || split === 0) continue
        const own = images.filter((image) => image.subset === subset)
        const rng =
          datasetIndex === 0 && subsetIndex === 0
            ? createRng(options.seed, streamValidation)
            : createRng(options.seed, streamValidation, datasetIndex, subsetIndex)
        for (const image of shuffled(own, rng).slice(0, Math.floor(own.length * split))) heldOut.add(image)
      }
    }
    const training = images.filter((image) => !image.concept.isRegularization)
    const trainImages = training.filter((image) => !heldOut.has(image))
    const validationImages = training.filter((image) => heldOut.has(image))
    const regImages = images.filter((image) => image.concept.isRegularization)

    type Item = { readonly image: TrainingImage; readonly lossWeight: number }
    const perDataset = options.datasets.map((spec, index) => {
      const own = (list: ReadonlyArray<TrainingImage>) => list.filter((image) => image.dataset === index)
      const trainRepeats = own(trainImages).reduce((sum, image) => sum + image.concept.repeats, 0)
      const reg = balanceRegularization(
        trainRepeats,
        own(regImages).map((image) => ({ image, repeats: image.concept.repeats })),
      ).filter((r) => r.repeats > 0)
      const entries = [
        ...own(trainImages).map((image) => ({
          item: { image, lossWeight: 1 } as Item,
          bucket: image.assignment.bucket,
          repeats: image.concept.repeats,
        })),
        ...reg.map((r) => ({
          item: { image: r.image, lossWeight: options.priorLossWeight } as Item,
          bucket: r.image.assignment.bucket,
          repeats: r.repeats,
        })),
      ]
      return {
        spec,
        entries,
        trainRepeats,
        regRepeats: reg.reduce((sum, r) => sum + r.repeats, 0),
        flip: spec.subsets.some((subset) => subset.flipAug),
        seed: datasetSeed(options.seed, index),
      }
    })
    const masked = options.datasets.some((spec) => spec.subsets.some((subset) => subset.alphaMask))

    const sampleOf = (
      image: TrainingImage,
      lossWeight: number,
      caption: string,
      flip: boolean,
    ): TrainSample => {
      const flipped = flip && image.flipped !== undefined
      return {
        latent: flipped ? image.flipped!.data : image.latent.data,
        caption,
        lossWeight,
        size: { originalSize: image.original, crop: image.crop, targetSize: image.assignment.bucket },
        ...(image.mask === undefined ? {} : { mask: flipped ? mirrorMask(image.mask) : image.mask.data }),
      }
    }
    const latentShapeOf = (image: TrainingImage) =>
      image.latent.shape as unknown as readonly [number, number, number]

    type Planned = { readonly bucket: Size; readonly items: ReadonlyArray<{ item: Item; flip: boolean }> }
    const plans = new Map<number, ReadonlyArray<Planned>>()
    const planOf = (epoch: number): ReadonlyArray<Planned> => {
      let plan = plans.get(epoch)
      if (plan === undefined) {
        const batches: Array<Planned> = perDataset.flatMap((d) =>
          planEpoch(d.entries, { batchSize: d.spec.batchSize, seed: d.seed, epoch, flip: d.flip }).map(
            (b) => ({
              bucket: b.bucket,
              items: b.samples.map((s) => ({ item: s.item, flip: s.flip })),
            }),
          ),
        )
        plan =
          perDataset.length === 1
            ? batches
            : shuffled(batches, createRng(options.seed, epoch, streamDatasetOrder))
        plans.clear()
        plans.set(epoch, plan)
      }
      return plan
    }
    const first = planOf(1)
    const shapeKeys = new Map<string, { latentShape: readonly [number, number, number]; batch: number }>()
    const addShape = (latentShape: readonly [number, number, number], batch: number) =>
      shapeKeys.set(`${latentShape.join("x")}:${batch}`, { latentShape, batch })
    for (const planned of first) addShape(latentShapeOf(planned.items[0]!.item.image), planned.items.length)

    const batch = (epoch: number, index: number): Effect.Effect<TrainBatch, DatasetError> =>
      Effect.suspend(() => {
        const planned = planOf(epoch)[index]
        if (planned === undefined)
          return Effect.fail(new DatasetError({ message: `epoch ${epoch} has no batch ${index}` }))
        const samples = planned.items.map(({ item, flip }, slot) => {
          const { image, lossWeight } = item
          const rng = createRng(options.seed, epoch, streamSample, index, slot)
          const caption = processCaption(image.caption, image.subset.caption, epoch, rng)
          return sampleOf(image, lossWeight, caption, flip && image.subset.flipAug)
        })
        return Effect.succeed({
          bucket: planned.bucket,
          latentShape: latentShapeOf(planned.items[0]!.item.image),
          samples,
        })
      })

    const validationBatches: Array<TrainBatch> = []
    const byBucket = new Map<string, Array<TrainingImage>>()
    for (const image of validationImages) {
      const key = `${image.dataset}:${sizeKey(image.assignment.bucket)}`
      byBucket.set(key, [...(byBucket.get(key) ?? []), image])
    }
    for (const group of byBucket.values()) {
      const size = options.datasets[group[0]!.dataset]!.batchSize
      for (let start = 0; start < group.length; start += size) {
        const slice = group.slice(start, start + size)
        validationBatches.push({
          bucket: slice[0]!.assignment.bucket,
          latentShape: latentShapeOf(slice[0]!),
          samples: slice.map((image) => sampleOf(image, 1, image.caption, false)),
        })
      }
    }
    for (const b of validationBatches) addShape(b.latentShape, b.samples.length)

    const summaries: Array<DatasetSummary> = perDataset.map((d, index) => {
      const tagFrequencyOf: Record<string, Record<string, number>> = {}
      for (const subset of d.spec.subsets) {
        const captions = images.filter((image) => image.subset === subset).map((image) => image.caption)
        tagFrequencyOf[subset.concept.folderName] = Object.fromEntries(
          tagFrequency(captions).map((t) => [t.tag, t.count]),
        )
      }
      return {
        trainImageCount: d.trainRepeats,
        regImageCount: d.regRepeats,
        tagFrequency: tagFrequencyOf,
        bucketInfo: bucketInfoOf(
          d.entries,
          images.filter((image) => image.dataset === index),
        ),
        subsetImageCounts: d.spec.subsets.map((subset) => subset.concept.images.length),
      }
    })
    const frequency: Record<string, Readonly<Record<string, number>>> = {}
    for (const summary of summaries)
      for (const [dir, tags] of Object.entries(summary.tagFrequency)) frequency[dir] ??= tags
    const dirs: Record<string, { n_repeats: number; img_count: number }> = {}
    const regDirs: Record<string, { n_repeats: number; img_count: number }> = {}
    for (const spec of options.datasets) {
      for (const { concept } of spec.subsets) {
        const target = concept.isRegularization ? regDirs : dirs
        let name = concept.folderName
        for (let n = 2; name in target; n++) name = `${concept.folderName} (${n})`
        target[name] = { n_repeats: concept.repeats, img_count: concept.images.length }
      }
    }

    return {
      batchesPerEpoch: first.length,
      batchSize: Math.max(...options.datasets.map((d) => d.batchSize)),
      shapes: [...shapeKeys.values()],
      batch,
      validation: validationBatches,
      images: trainImages,
      regularizationImages: regImages,
      validationImages,
      tagFrequency: frequency,
      datasetDirs: dirs,
      regDatasetDirs: regDirs,
      bucketInfo: summaries[0]!.bucketInfo,
      datasets: summaries,
      trainImageCount: summaries.reduce((sum, d) => sum + d.trainImageCount, 0),
      regImageCount: summaries.reduce((sum, d) => sum + d.regImageCount, 0),
      masked,
    }
  })
