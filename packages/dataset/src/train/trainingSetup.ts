import { createHash } from "node:crypto"
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import {
  architectureOf,
  type Backend,
  detectCheckpoint,
  type HostTensor,
  readBaseWeight,
  type SdArchitecture,
  type TensorFile,
  type TrainConfig,
  vaeDownscale,
  vaePrefix,
} from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { Effect, type Scope } from "effect"
import type { DatasetConfig } from "../config/datasetConfig.js"
import { DatasetError, describeCause } from "../errors.js"
import { captionOptionsOf, datasetSpec, sizingOf, type TrainRunHooks, vaeEncoder } from "./train.js"
import { foldersAsDataset, loadTrainingData, type TrainingData } from "./trainingData.js"

const fail = (message: string) => new DatasetError({ message })

/** What a run stands on once its inputs are checked: the base model, the latents, the step arithmetic. */
export interface TrainingSetup {
  readonly modelPath: string
  readonly outputDir: string
  readonly outputName: string
  readonly seed: number
  readonly file: TensorFile
  readonly architecture: SdArchitecture
  /** A base weight in f32, checked against the shape the model expects. */
  readonly readWeight: (key: string, shape: readonly number[]) => Effect.Effect<HostTensor, unknown>
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

    const file = yield* openModelFile(modelPath)
    const detected = yield* detectCheckpoint(file)
    const read = yield* architectureOf(file, {
      family: detected.family,
      prediction: config.vParameterization ? "v" : detected.prediction,
    })
    // v_parameterization decides the target whatever the file declares, as in sd-scripts.
    const architecture: SdArchitecture = config.vParameterization ? { ...read, prediction: "v" } : read
    hooks.emit({
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
    const readWeight = (key: string, shape: readonly number[]) => readBaseWeight(file, key, shape, "f32")

    const vaeHash = createHash("sha256")
    vaeHash.update(JSON.stringify(architecture.vae))
    for (const info of file.tensors.filter((t) => t.name.startsWith(`${vaePrefix}.`))) {
      const stored = yield* file.read(info.name)
      vaeHash.update(info.name).update(stored.bytes)
    }
    const encoder = yield* vaeEncoder(architecture, vaeHash.digest("hex"), seed, readWeight)

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
      onLatent: (done, total, encoded) => hooks.emit({ type: "latents", done, total, encoded }),
    })
    if (config.maskedLoss && !data.masked)
      return yield* fail(
        "masked_loss needs a mask: set alpha_mask (danlu takes the mask from each image's alpha channel)",
      )
    hooks.emit({
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
      data,
      accumulation,
      totalSteps,
      epochs: Math.ceil(totalSteps / updatesPerEpoch),
    }
  })
