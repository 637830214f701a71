import { createHash } from "node:crypto"
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import {
  architectureOf,
  Backend,
  baseWeightStorage,
  type ClipTokenizer,
  type DeviceBuffer,
  type DType,
  detectCheckpoint,
  fullHalfMismatch,
  type HostTensor,
  hostTensor,
  isFloat,
  readBaseWeight,
  type SdArchitecture,
  T,
  type TensorFile,
  type TrainConfig,
  trainedWeightStorage,
  vaeDownscale,
  vaeEncode,
  vaeLatent,
  vaePrefix,
  WeightScope,
} from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { Effect, Scope } from "effect"
import type { Sizing } from "../buckets/sizing.js"
import { type CaptionOptions, processCaption } from "../captions/captionPipeline.js"
import type { DatasetBlueprint, DatasetConfig } from "../config/datasetConfig.js"
import { DatasetError, describeCause } from "../errors.js"
import type { LatentEncoder } from "../latent/latentCache.js"
import { createRng } from "../random/rng.js"
import { cacheTextEncoderOutputs } from "./textEncoderCache.js"
import type { TrainRunHooks } from "./train.js"
import {
  foldersAsDataset,
  loadTrainingData,
  subsetFolder,
  type TrainingData,
  type TrainingDatasetSpec,
  type TrainingSubset,
} from "./trainingData.js"
import { runEventTeller } from "./trainRunEvents.js"

const fail = (message: string) => new DatasetError({ message })

const latentScope = (shape: readonly number[]) => shape.join("x")

/**
 * The VAE as the latent cache's encoder: one compiled encode program per image size, sampling the
 * posterior once (kohya's `latent_dist.sample()`) with noise keyed by the seed and the image.
 */
export const vaeEncoder = (
  architecture: SdArchitecture,
  vaeHash: string,
  seed: number,
  readWeight: (key: string, shape: readonly number[], dtype: DType) => Effect.Effect<HostTensor, unknown>,
  storage: DType | undefined,
) =>
  Effect.gen(function* () {
    const backend = yield* Backend
    const scope = yield* Effect.scope
    const programs = new Map<
      string,
      { run: (pixels: HostTensor, key: HostTensor) => Effect.Effect<Float32Array, unknown> }
    >()
    const uploaded = new Map<string, DeviceBuffer>()
    let encodes = 0
    const programFor = (shape: readonly [number, number, number]) =>
      Effect.gen(function* () {
        const key = latentScope(shape)
        const seen = programs.get(key)
        if (seen) return seen
        const weights = WeightScope.root(storage === undefined ? {} : { storage })
        const image = T.input("image", [1, ...shape])
        const posterior = vaeEncode(weights.at(vaePrefix), architecture.vae, image)
        const noise = T.random(T.input("noise_key", [4], "u32"), posterior.mean.shape, "normal")
        const latent = vaeLatent(architecture.vae, posterior, noise)
        const program = yield* Scope.provide(scope)(backend.compile({ outputs: { latent }, updates: {} }))
        // The VAE weights are read and uploaded once, whatever the number of image sizes.
        const states: Record<string, DeviceBuffer> = {}
        for (const spec of program.states) {
          let buffer = uploaded.get(spec.name)
          if (buffer === undefined) {
            buffer = yield* Scope.provide(scope)(
              backend.upload(yield* readWeight(spec.name, spec.shape, spec.dtype)),
            )
            uploaded.set(spec.name, buffer)
          }
          states[spec.name] = buffer
        }
        const entry = {
          run: (pixels: HostTensor, noiseKey: HostTensor) =>
            Effect.map(
              program.run({ image: pixels, noise_key: noiseKey }, states),
              (out) => out.latent!.data as Float32Array,
            ),
        }
        programs.set(key, entry)
        return entry
      })
    const encoder: LatentEncoder<unknown> = {
      vaeHash,
      encode: (pixels) =>
        Effect.gen(function* () {
          const shape = pixels.shape as unknown as readonly [number, number, number]
          const program = yield* programFor(shape)
          encodes++
          const key = hostTensor("u32", [4], Uint32Array.of(seed >>> 0, 0, encodes, 0x766165))
          const data = yield* program.run(hostTensor("f32", [1, ...shape], pixels.data), key)
          const [, h, w] = shape
          const factor = vaeDownscale(architecture)
          return {
            shape: [architecture.vae.embedDim, h / factor, w / factor],
            data: Float32Array.from(data, (v) => (Number.isNaN(v) ? 0 : v)),
          }
        }),
    }
    return encoder
  })

/** The caption pipeline's options from a subset's (or the run's) kohya options. */
export const captionOptionsOf = (options: {
  readonly shuffleCaption: boolean
  readonly keepTokens: number
  readonly keepTokensSeparator: string
  readonly captionDropoutRate: number
  readonly captionDropoutEveryNEpochs: number
  readonly captionTagDropoutRate: number
  readonly captionSeparator: string
  readonly secondarySeparator?: string | undefined
  readonly captionPrefix?: string | undefined
  readonly captionSuffix?: string | undefined
}): CaptionOptions => ({
  shuffle: options.shuffleCaption,
  keepTokens: options.keepTokens,
  keepTokensSeparator: options.keepTokensSeparator,
  captionDropoutRate: options.captionDropoutRate,
  captionDropoutEveryNEpochs: options.captionDropoutEveryNEpochs,
  tagDropoutRate: options.captionTagDropoutRate,
  separator: options.captionSeparator,
  ...(options.secondarySeparator === undefined ? {} : { secondarySeparator: options.secondarySeparator }),
  ...(options.captionPrefix === undefined ? {} : { prefix: options.captionPrefix }),
  ...(options.captionSuffix === undefined ? {} : { suffix: options.captionSuffix }),
})

/** One `[[datasets]]` of kohya's dataset_config as the batch source reads it. */
export const datasetSpec = (blueprint: DatasetBlueprint): Effect.Effect<TrainingDatasetSpec, DatasetError> =>
  Effect.gen(function* () {
    const subsets: Array<TrainingSubset> = []
    for (const subset of blueprint.subsets) {
      subsets.push({
        concept: yield* subsetFolder(subset),
        captionExtension: subset.captionExtension,
        caption: captionOptionsOf(subset),
        flipAug: subset.flipAug,
        alphaMask: subset.alphaMask,
        validationSplit: subset.validationSplit,
      })
    }
    return { sizing: sizingOf(blueprint), batchSize: blueprint.batchSize, subsets }
  })

/** kohya's bucket options (or one fixed size) as the dataset's sizing. */
export const sizingOf = (config: {
  readonly enableBucket: boolean
  readonly resolution: TrainConfig["resolution"]
  readonly minBucketReso: number
  readonly maxBucketReso: number
  readonly bucketResoSteps: number
  readonly bucketNoUpscale: boolean
}): Sizing =>
  config.enableBucket
    ? {
        mode: "buckets",
        resolution: config.resolution,
        minSide: config.minBucketReso,
        maxSide: config.maxBucketReso,
        step: config.bucketResoSteps,
        noUpscale: config.bucketNoUpscale,
      }
    : { mode: "fixed", size: config.resolution }

/** What a run stands on once its inputs are checked: the base model, the latents, the step arithmetic. */
export interface TrainingSetup {
  readonly modelPath: string
  readonly outputDir: string
  readonly outputName: string
  readonly seed: number
  readonly file: TensorFile
  readonly architecture: SdArchitecture
  /** A base weight in `dtype`, checked against the shape the model expects. */
  readonly readWeight: (
    key: string,
    shape: readonly number[],
    dtype: DType,
  ) => Effect.Effect<HostTensor, unknown>
  /** How the frozen base weights are held (`mixed_precision`); undefined is f32. */
  readonly storage: DType | undefined
  /** How the trained weights and their optimizer moments are held (`full_fp16` / `full_bf16`); undefined is f32. */
  readonly trainedStorage: DType | undefined
  readonly data: TrainingData<unknown>
  readonly accumulation: number
  /** kohya's `max_train_steps` (from `max_train_epochs` when set). */
  readonly totalSteps: number
  readonly epochs: number
}

/**
 * The part of sd-scripts' training scripts before the model is trained: the paths, the options that cannot
 * go together, the base model and its family, the resolution against the model, the kohya folders (or
 * dataset_config) with their latents cached, and the step arithmetic. Every refusal is one line.
 * `frozenTextEncoder` says whether `cache_text_encoder_outputs` may be used.
 */
export const prepareTraining = (
  config: TrainConfig,
  hooks: TrainRunHooks,
  dataset: DatasetConfig | undefined,
  options: { readonly frozenTextEncoder: boolean; readonly frozenTextEncoderOption: string },
): Effect.Effect<TrainingSetup, unknown, Backend | Scope.Scope> =>
  Effect.gen(function* () {
    const modelPath = config.pretrainedModelNameOrPath
    if (!modelPath) return yield* fail("no base model: set pretrained_model_name_or_path")
    if (!config.trainDataDir && !dataset)
      return yield* fail("no training images: set train_data_dir or dataset_config")
    const outputDir = config.outputDir
    if (!outputDir) return yield* fail("no output folder: set output_dir")
    const seed = config.seed ?? 42
    const fullHalf = fullHalfMismatch(config)
    if (fullHalf !== undefined) return yield* fail(fullHalf)
    const trainedStorage = trainedWeightStorage(config)
    const { capabilities, name: backendName } = yield* Backend
    // WebGPU reads bf16 weights (two to a u32) but has no bf16 to compute or write in (ADR 0011 §4).
    if (trainedStorage !== undefined && !capabilities.dtypes.includes(trainedStorage)) {
      const option = trainedStorage === "f16" ? "full_fp16" : "full_bf16"
      const other =
        trainedStorage === "bf16" && capabilities.dtypes.includes("f16")
          ? "full_fp16 with mixed_precision fp16, or "
          : ""
      return yield* fail(
        `${option} cannot run on the ${backendName} backend: it cannot write ${trainedStorage} weights (it computes in ${capabilities.dtypes.filter(isFloat).join(", ")}); use ${other}another backend`,
      )
    }
    const augmented = dataset ? dataset.datasets.flatMap((d) => d.subsets) : [config]
    if (config.cacheTextEncoderOutputs) {
      if (!options.frozenTextEncoder)
        return yield* fail(
          `cache_text_encoder_outputs needs ${options.frozenTextEncoderOption} (a frozen text encoder)`,
        )
      const varying = [
        ["shuffle_caption", (o: (typeof augmented)[number]) => o.shuffleCaption],
        ["caption_dropout_rate", (o: (typeof augmented)[number]) => o.captionDropoutRate > 0],
        ["caption_tag_dropout_rate", (o: (typeof augmented)[number]) => o.captionTagDropoutRate > 0],
        [
          "caption_dropout_every_n_epochs",
          (o: (typeof augmented)[number]) => o.captionDropoutEveryNEpochs > 0,
        ],
      ] as const
      const used = varying.filter(([, on]) => augmented.some(on)).map(([name]) => name)
      if (used.length > 0)
        return yield* fail(
          `cache_text_encoder_outputs cannot be used with ${used.join(", ")}: the captions change every step`,
        )
    }
    for (const option of ["randomCrop", "colorAug"] as const) {
      if (augmented.some((o) => o[option]))
        return yield* fail(
          `${option === "randomCrop" ? "random_crop" : "color_aug"} cannot be used: danlu always caches latents, and when caching latents, either color_aug or random_crop cannot be used (kohya's rule)`,
        )
    }

    const tell = yield* runEventTeller(hooks.emit)
    const file = yield* openModelFile(modelPath)
    const detected = yield* detectCheckpoint(file)
    const read = yield* architectureOf(file, {
      family: detected.family,
      prediction: config.vParameterization ? "v" : detected.prediction,
    })
    // v_parameterization decides the target whatever the file declares, as in sd-scripts.
    const architecture: SdArchitecture = config.vParameterization ? { ...read, prediction: "v" } : read
    tell({
      type: "model",
      path: modelPath,
      family: architecture.family,
      prediction: architecture.prediction,
    })
    const multiple = vaeDownscale(architecture) * 2 ** (architecture.unet.channelMult.length - 1)
    for (const sizes of dataset ? dataset.datasets : [config]) {
      const sides = sizes.enableBucket
        ? [sizes.bucketResoSteps]
        : [sizes.resolution.width, sizes.resolution.height]
      if (sides.some((side) => side % multiple !== 0)) {
        return yield* fail(
          sizes.enableBucket
            ? `bucket_reso_steps = ${sizes.bucketResoSteps} is not a multiple of ${multiple}, which this model's image sides must be`
            : `resolution ${sizes.resolution.width},${sizes.resolution.height} is not a multiple of ${multiple} on each side, as this model needs`,
        )
      }
    }
    const readWeight = (key: string, shape: readonly number[], dtype: DType) =>
      readBaseWeight(file, key, shape, dtype)
    const storage = baseWeightStorage(config.mixedPrecision)

    const vaeHash = createHash("sha256")
    vaeHash.update(JSON.stringify(architecture.vae))
    // Half VAE weights encode slightly different latents: they get their own cache entries.
    if (storage !== undefined) vaeHash.update(storage)
    for (const info of file.tensors.filter((t) => t.name.startsWith(`${vaePrefix}.`))) {
      const stored = yield* file.read(info.name)
      vaeHash.update(info.name).update(stored.bytes)
    }
    const encoder = yield* vaeEncoder(architecture, vaeHash.digest("hex"), seed, readWeight, storage)

    yield* Effect.tryPromise({
      try: () => mkdir(outputDir, { recursive: true }),
      catch: (cause) => fail(`cannot create ${outputDir}: ${describeCause(cause)}`),
    })
    const datasets = dataset
      ? yield* Effect.forEach(dataset.datasets, datasetSpec)
      : [
          yield* foldersAsDataset({
            trainDataDir: config.trainDataDir!,
            regDataDir: config.regDataDir,
            sizing: sizingOf(config),
            batchSize: config.trainBatchSize,
            captionExtension: config.captionExtension,
            caption: captionOptionsOf(config),
            flipAug: config.flipAug,
            alphaMask: config.alphaMask,
            validationSplit: config.validationSplit,
          }),
        ]
    const data: TrainingData<unknown> = yield* loadTrainingData({
      datasets,
      seed,
      priorLossWeight: config.priorLossWeight,
      cacheDir: join(outputDir, ".danlu-cache", "latents"),
      encoder,
    })
    if (config.maskedLoss && !data.masked)
      return yield* fail(
        "masked_loss needs a mask: set alpha_mask (danlu takes the mask from each image's alpha channel)",
      )
    tell({
      type: "dataset",
      images: data.images.length,
      regImages: data.regularizationImages.length,
      buckets: data.datasets.reduce((sum, d) => sum + Object.keys(d.bucketInfo.buckets).length, 0),
      batchesPerEpoch: data.batchesPerEpoch,
    })

    const accumulation = config.gradientAccumulationSteps
    const updatesPerEpoch = Math.ceil(data.batchesPerEpoch / accumulation)
    const totalSteps =
      config.maxTrainEpochs !== undefined ? config.maxTrainEpochs * updatesPerEpoch : config.maxTrainSteps
    return {
      modelPath,
      outputDir,
      outputName: config.outputName ?? "last",
      seed,
      file,
      architecture,
      readWeight,
      storage,
      trainedStorage,
      data,
      accumulation,
      totalSteps,
      epochs: Math.ceil(totalSteps / updatesPerEpoch),
    }
  })

/**
 * With `cache_text_encoder_outputs` (captions fixed for the run): every caption a step or the validation loss
 * can see — the training images' captions as the pipeline gives them, the validation images' as they are —
 * encoded once by the frozen text encoder. Undefined without the option.
 */
export const cachedTextOutputs = (config: TrainConfig, setup: TrainingSetup, tokenizer: ClipTokenizer) =>
  config.cacheTextEncoderOutputs
    ? cacheTextEncoderOutputs(
        setup.architecture,
        tokenizer,
        config.clipSkip,
        [
          ...[...setup.data.images, ...setup.data.regularizationImages].map((image) =>
            processCaption(image.caption, image.subset.caption, 1, createRng(setup.seed)),
          ),
          ...setup.data.validation.flatMap((batch) => batch.samples.map((sample) => sample.caption)),
        ],
        setup.readWeight,
        setup.storage,
      )
    : Effect.succeed(undefined)
