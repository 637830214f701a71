import { stat } from "node:fs/promises"
import { join } from "node:path"
import {
  asBackendError,
  type Backend,
  type BatchShape,
  castHostFloat,
  clipTokenizer,
  conditionedUNet,
  conditioningInputs,
  type DType,
  type HostTensor,
  importLora,
  kohyaMetadata,
  type LoraForwardHook,
  type LrGroup,
  loraDownName,
  loraUpName,
  makeOptimizer,
  type OptimizerArgValue,
  paramSpec,
  runTrainingLoop,
  type SavePoint,
  T,
  type Tensor,
  type TrainConfig,
  type TrainResult,
  textConditioning,
  trainedNetwork,
  WeightScope,
} from "@danlu/core"
import { kohyaTrainSink, openModelFile } from "@danlu/core/node"
import { Effect, type Scope } from "effect"
import type { DatasetConfig } from "../config/datasetConfig.js"
import { DatasetError } from "../errors.js"
import { batchInputs } from "./batchInputs.js"
import { datasetsMetadata } from "./datasetsMetadata.js"
import { loopScheduleOf, validationLossLog } from "./loopSchedule.js"
import { loraDropout } from "./loraDropout.js"
import { pyBool, pyFloat, pyInt } from "./pythonStr.js"
import { readResumeState, runIdentity, runIdentityKey } from "./runIdentity.js"
import { isTrainingStateOf, stepCounterInputs, stepGraphs } from "./runSteps.js"
import { stepOptionsOf } from "./stepOptionsOf.js"
import { cachedConditioning } from "./textEncoderCache.js"
import { trainingSamples } from "./trainingSamples.js"
import { cachedTextOutputs, prepareTraining } from "./trainingSetup.js"
import { runEventTeller, type TrainRunEvent } from "./trainRunEvents.js"

export interface TrainRunHooks {
  readonly emit: (event: TrainRunEvent) => void
  readonly stopRequested: () => boolean
}

const fail = (message: string) => new DatasetError({ message })

/** kohya's `optimizer_args` strings (`key=value`, values as Python literals) from the parsed config. */
export const optimizerArgStrings = (args: Readonly<Record<string, OptimizerArgValue>>): Array<string> =>
  Object.entries(args).map(([key, value]) => {
    const py = (v: OptimizerArgValue): string =>
      v === null
        ? "None"
        : typeof v === "boolean"
          ? v
            ? "True"
            : "False"
          : Array.isArray(v)
            ? `(${v.join(",")})`
            : String(v)
    return `${key}=${py(value)}`
  })

/** `save_precision` as the LoRA file stores it; unset keeps the dtype the weights were trained in (kohya's None). */
const loraSaveDType = (precision: TrainConfig["savePrecision"], trained: DType | undefined) =>
  precision === "fp16" || (precision === undefined && trained === "f16")
    ? "F16"
    : precision === "bf16" || (precision === undefined && trained === "bf16")
      ? "BF16"
      : "F32"

/**
 * Trains a LoRA as sd-scripts' `train_network.py` does, on the backend in the Effect context: the base model,
 * the kohya folders, the latent cache, one step program per bucket shape, files and states at kohya's save
 * points. Every user error is a one-line typed failure before the first step.
 */
export const train = (
  config: TrainConfig,
  hooks: TrainRunHooks,
  dataset?: DatasetConfig,
): Effect.Effect<TrainResult, unknown, Backend | Scope.Scope> =>
  Effect.gen(function* () {
    const tell = yield* runEventTeller(hooks.emit)
    const setup = yield* prepareTraining(config, hooks, dataset, {
      frozenTextEncoder: config.networkTrainUnetOnly,
      frozenTextEncoderOption: "network_train_unet_only",
    })
    const { modelPath, outputDir, outputName, seed, architecture, readWeight, storage, data, accumulation } =
      setup
    const { totalSteps, epochs } = setup

    const network = trainedNetwork(architecture, config)
    const tokenizer = yield* clipTokenizer
    const textCache = yield* cachedTextOutputs(config, setup, tokenizer)
    if (textCache) tell({ type: "captions", encoded: textCache.outputs.size })
    const dropout = loraDropout({
      network: config.networkDropout,
      rank: config.networkArgs.rankDropout,
      module: config.networkArgs.moduleDropout,
    })
    const buildModel = (shape: BatchShape, hook?: LoraForwardHook) => {
      const scope = WeightScope.root({
        adapters: [hook ? network.adapterWith(hook) : network.adapter],
        ...(storage === undefined ? {} : { storage }),
      })
      const latents = T.input("latents", [shape.batch, ...shape.latentShape])
      const conditioning = textCache
        ? cachedConditioning(architecture, textCache, shape.batch)
        : textConditioning(
            scope,
            architecture,
            conditioningInputs(architecture, shape.batch),
            config.clipSkip,
            { gradientCheckpointing: config.gradientCheckpointing },
          )
      const denoise = conditionedUNet(scope, architecture, conditioning, {
        gradientCheckpointing: config.gradientCheckpointing,
      })
      return { scope, latents, denoise }
    }
    // Recording the model throws a typed ShapeError for what it cannot build (e.g. clip_skip beyond the layers).
    const probe = yield* Effect.try({
      try: () => {
        const built = buildModel(data.shapes[0]!)
        built.denoise(built.latents, T.input("t", [data.shapes[0]!.batch]))
        return built
      },
      catch: (cause) => asBackendError(cause, "danlu", "building the model"),
    })
    const modules = network.modules()
    if (modules.length === 0)
      return yield* fail(
        "the network adapts no layer of this model; check network_train_unet_only / network_train_text_encoder_only",
      )
    const loraTensors = network.tensors()
    const isUnet = (name: string) => name.startsWith("lora_unet_")
    const paramsWhere = (test: (name: string) => boolean) =>
      [...loraTensors.entries()].filter(([name]) => test(name)).map(([, t]) => t as Tensor<"state">)
    const unetParams = paramsWhere(isUnet)
    const teParams = paramsWhere((name) => !isUnet(name))
    const groups: Array<LrGroup> = []
    const graphGroups: Array<{
      trainables: ReadonlyArray<(typeof unetParams)[number]>
      lr: ReturnType<typeof T.input>
    }> = []
    if (unetParams.length > 0) {
      groups.push({ name: "unet", input: "lr_unet", baseLr: config.unetLr ?? config.learningRate })
      graphGroups.push({ trainables: unetParams, lr: T.input("lr_unet", []) })
    }
    if (teParams.length > 0) {
      groups.push({
        name: "textencoder",
        input: "lr_te",
        baseLr: config.textEncoderLr ?? config.learningRate,
      })
      graphGroups.push({ trainables: teParams, lr: T.input("lr_te", []) })
    }
    const optimizer = makeOptimizer(config.optimizerType, optimizerArgStrings(config.optimizerArgs))
    const stepOptions = stepOptionsOf(config, architecture, data.masked)
    /** The dropout hook of a step graph, laid out by a first build that only notes the hidden shapes. */
    const dropoutFor = (shape: BatchShape) => {
      if (!dropout) return undefined
      const recorder = dropout.record()
      const pass = buildModel(shape, recorder.hook)
      pass.denoise(pass.latents, T.input("t", [shape.batch]))
      return dropout.hook(recorder.layout())
    }
    let initialLora: Record<string, HostTensor> = network.initialWeights(seed)
    if (config.networkWeights) {
      const loraFile = yield* openModelFile(config.networkWeights)
      const imported = yield* importLora(loraFile, probe.scope.modules(), {
        unetNaming: architecture.family === "sdxl" ? "ldm" : "diffusers",
      })
      initialLora = { ...initialLora }
      for (const module of imported.modules) {
        initialLora[loraDownName(module.name)] = module.down
        initialLora[loraUpName(module.name)] = module.up
      }
    }
    // The optimizer's states follow the step's groups (AdamW packs each group's moments in one vector).
    const paramGroups = graphGroups.map((group) => group.trainables.map(paramSpec))
    const optimizerInitial = optimizer.initialState(paramGroups)
    const { stepGraph, validationGraph, stepInitial } = stepGraphs({
      train: (shape) => ({ ...buildModel(shape, dropoutFor(shape)), groups: graphGroups }),
      validate: (shape) => buildModel(shape),
      optimizer,
      optimizerStates: optimizerInitial,
      options: stepOptions,
    })

    const startedAt = Math.floor(Date.now() / 1000)
    const sessionId = Math.floor(Math.random() * 2 ** 31)
    const modelStat = yield* Effect.tryPromise({
      try: () => stat(modelPath),
      catch: () => fail(`cannot stat ${modelPath}`),
    })
    const identity = runIdentity(
      config,
      seed,
      { name: modelPath.split(/[\\/]/).pop() ?? modelPath, size: modelStat.size },
      data,
    )
    const resume = yield* readResumeState(config.resume, identity, { optimizer, groups: paramGroups })
    // kohya writes the data options as top-level keys for train_data_dir, and per dataset in ss_datasets.
    const foldersMetadata: Record<string, string> = {
      ss_batch_size_per_device: String(config.trainBatchSize),
      ss_resolution: `(${config.resolution.width}, ${config.resolution.height})`,
      ss_enable_bucket: pyBool(config.enableBucket),
      ss_min_bucket_reso: String(config.minBucketReso),
      ss_max_bucket_reso: String(config.maxBucketReso),
      ss_bucket_no_upscale: pyBool(config.bucketNoUpscale),
      ss_shuffle_caption: pyBool(config.shuffleCaption),
      ss_keep_tokens: String(config.keepTokens),
      ss_caption_dropout_rate: pyFloat(config.captionDropoutRate),
      ss_caption_dropout_every_n_epochs: String(config.captionDropoutEveryNEpochs),
      ss_caption_tag_dropout_rate: pyFloat(config.captionTagDropoutRate),
      ss_flip_aug: pyBool(config.flipAug),
      ss_color_aug: pyBool(config.colorAug),
      ss_random_crop: pyBool(config.randomCrop),
      ss_tag_frequency: JSON.stringify(data.tagFrequency),
      ss_dataset_dirs: JSON.stringify(data.datasetDirs),
      ss_reg_dataset_dirs: JSON.stringify(data.regDatasetDirs),
      ss_bucket_info: JSON.stringify(data.bucketInfo),
    }
    const baseMetadata: Record<string, string> = {
      ss_session_id: String(sessionId),
      ss_training_started_at: String(startedAt),
      ss_output_name: outputName,
      ss_learning_rate: pyFloat(config.learningRate),
      ss_text_encoder_lr: pyFloat(config.textEncoderLr),
      ss_unet_lr: pyFloat(config.unetLr),
      ss_num_train_images: String(data.trainImageCount),
      ss_num_reg_images: String(data.regImageCount),
      ss_num_batches_per_epoch: String(data.batchesPerEpoch),
      ss_num_epochs: String(epochs),
      ss_gradient_checkpointing: pyBool(config.gradientCheckpointing),
      ss_gradient_accumulation_steps: String(accumulation),
      ss_max_train_steps: String(totalSteps),
      ss_lr_warmup_steps: String(config.lrWarmupSteps),
      ss_lr_scheduler: config.lrScheduler,
      ss_optimizer: `${optimizer.type}(${Object.entries(config.optimizerArgs)
        .map(([k, v]) => `${k}=${v}`)
        .join(",")})`,
      ss_mixed_precision: config.mixedPrecision,
      ss_full_fp16: pyBool(config.fullFp16),
      ss_full_bf16: pyBool(config.fullBf16),
      ss_sd_model_name: modelPath.split(/[\\/]/).pop() ?? modelPath,
      ss_clip_skip: pyInt(config.clipSkip),
      ss_max_token_length: pyInt(config.maxTokenLength),
      ss_cache_latents: "True",
      ss_seed: String(seed),
      ss_lowram: "False",
      ss_noise_offset: pyFloat(config.noiseOffset),
      ss_multires_noise_iterations: pyInt(config.multiresNoiseIterations),
      ss_multires_noise_discount: pyFloat(config.multiresNoiseDiscount),
      ss_adaptive_noise_scale: pyFloat(config.adaptiveNoiseScale),
      ss_zero_terminal_snr: pyBool(config.zeroTerminalSnr),
      ss_training_comment: config.trainingComment ?? "None",
      ss_max_grad_norm: pyFloat(config.maxGradNorm),
      ss_min_snr_gamma: pyFloat(config.minSnrGamma),
      ss_loss_type: config.lossType,
      ss_huber_schedule: config.huberSchedule,
      ss_huber_c: pyFloat(config.huberC),
      ss_debiased_estimation: pyBool(config.debiasedEstimationLoss),
      ss_ip_noise_gamma: pyFloat(config.ipNoiseGamma),
      ss_prior_loss_weight: pyFloat(config.priorLossWeight),
      ss_sd_model_hash: String(modelStat.size),
      ss_masked_loss: pyBool(config.maskedLoss),
      ss_network_dropout: pyFloat(config.networkDropout),
      ss_network_args: JSON.stringify(
        Object.fromEntries(
          (
            [
              ["conv_dim", config.networkArgs.convDim],
              [
                "conv_alpha",
                config.networkArgs.convDim === undefined ? undefined : (config.networkArgs.convAlpha ?? 1),
              ],
              ["rank_dropout", config.networkArgs.rankDropout],
              ["module_dropout", config.networkArgs.moduleDropout],
            ] as const
          )
            .filter(([, value]) => value !== undefined)
            .map(([key, value]) => [key, String(value)]),
        ),
      ),
      ...(dataset ? datasetsMetadata(dataset, data) : foldersMetadata),
    }
    const validationLosses = validationLossLog()
    const metadata = (point: SavePoint): Record<string, string> => ({
      ...kohyaMetadata({
        family: architecture.family,
        prediction: architecture.prediction,
        rank: config.networkDim,
        alpha: config.networkAlpha,
        convRank: config.networkArgs.convDim,
        convAlpha: config.networkArgs.convAlpha,
        title: config.metadataTitle ?? outputName,
        resolution: [config.resolution.width, config.resolution.height],
        extra: {
          ...baseMetadata,
          ss_epoch: String(point.epoch),
          ss_steps: String(point.step),
          ss_training_finished_at: String(Math.floor(Date.now() / 1000)),
          ...validationLosses.metadata(),
        },
      }),
    })
    const sink = kohyaTrainSink({
      outputDir,
      outputName,
      savePrecision: loraSaveDType(config.savePrecision, setup.trainedStorage),
      networkStates: [...loraTensors.keys()],
      modules: (weights) => network.moduleWeights(weights),
      metadata,
      stateMetadata: { [runIdentityKey]: JSON.stringify(identity) },
    })
    const currentNetwork = kohyaTrainSink({
      outputDir: join(outputDir, "sample", ".lora"),
      outputName: `${outputName}-current`,
      savePrecision: "F32",
      networkStates: [...loraTensors.keys()],
      modules: (weights) => network.moduleWeights(weights),
      metadata,
    })
    const sample = yield* trainingSamples(
      config,
      outputDir,
      outputName,
      (point) => currentNetwork.saveNetwork({ ...point, kind: "final" }),
      (path) => tell({ type: "sample", path }),
    )
    const result = yield* runTrainingLoop({
      sample,
      data,
      stepGraph,
      validationGraph: data.validation.length > 0 ? validationGraph : undefined,
      batchInputs: (batch) => batchInputs(architecture, tokenizer, data.masked, batch, textCache),
      stepInputs: stepCounterInputs(seed, accumulation),
      initialState: (spec) =>
        Effect.suspend(() => {
          const known = initialLora[spec.name] ?? optimizerInitial[spec.name] ?? stepInitial(spec.name)
          // New and imported LoRA weights are f32; full_fp16 / full_bf16 hold them rounded to half.
          if (known) return Effect.succeed(castHostFloat(known, spec.dtype))
          return readWeight(spec.name, spec.shape, spec.dtype)
        }),
      isTrainingState: isTrainingStateOf(new Set(loraTensors.keys())),
      groups,
      ...loopScheduleOf(config, { seed, totalSteps, epochs }),
      sink,
      ...(resume ? { resume } : {}),
      stopRequested: hooks.stopRequested,
      emit: (event) => {
        validationLosses.record(event)
        hooks.emit(event)
      },
    })
    return result
  })
