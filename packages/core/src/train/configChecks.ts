import { defaultTrainConfig, kohyaOptionName, type TrainConfig } from "./config.js"
import { fullHalfMismatch } from "./precision.js"

/** One problem found before training: an error stops the run, a warning is printed. */
export interface ConfigProblem {
  readonly level: "error" | "warning"
  /** kohya's option name the problem is about. */
  readonly key: string
  /** One line, naming the values involved and what to do. */
  readonly message: string
}

/** What is known about the data without reading it again (from `danlu dataset check`, say). */
export interface ConfigCheckContext {
  /** Batches in one epoch: Σ(images × repeats, regularisation included) / batch size, per bucket, rounded up. */
  readonly batchesPerEpoch?: number
  /** The config is for full fine-tuning (`danlu finetune`): no network, and the text encoder's own options. */
  readonly fineTuning?: boolean
}

/** Optimizers that set their own step size and want learning_rate ≈ 1 (sd-scripts warns the same). */
const adaptiveOptimizers: ReadonlySet<string> = new Set(["Prodigy"])

/** Optimizer updates in one epoch: kohya's `ceil(batches / gradient_accumulation_steps)`. */
export const optimizerStepsPerEpoch = (config: TrainConfig, batchesPerEpoch: number): number =>
  Math.ceil(batchesPerEpoch / config.gradientAccumulationSteps)

/**
 * The run's optimizer steps: `max_train_epochs` × steps per epoch when epochs are set (they override
 * `max_train_steps`, as in sd-scripts), else `max_train_steps`. Undefined when epochs are set and the
 * number of batches is not known.
 */
export const totalTrainSteps = (config: TrainConfig, batchesPerEpoch?: number): number | undefined => {
  if (config.maxTrainEpochs === undefined) return config.maxTrainSteps
  return batchesPerEpoch === undefined
    ? undefined
    : config.maxTrainEpochs * optimizerStepsPerEpoch(config, batchesPerEpoch)
}

/** Warm-up steps: `lr_warmup_steps` below 1 is a fraction of all steps (sd-scripts' rule), else a count. */
export const warmupSteps = (config: TrainConfig, totalSteps: number): number =>
  config.lrWarmupSteps > 0 && config.lrWarmupSteps < 1
    ? Math.floor(config.lrWarmupSteps * totalSteps)
    : config.lrWarmupSteps

/** The guide's learning rate: 2e-4 at batch 2, scaled in proportion to the batch. */
const guideLrPerImage = 1e-4

const plain = (value: number): string => String(value)

/** The size options of the training options or of one dataset_config dataset. */
export type SizeOptions = Pick<
  TrainConfig,
  "resolution" | "enableBucket" | "minBucketReso" | "maxBucketReso" | "bucketResoSteps" | "bucketNoUpscale"
>

/**
 * Resolution and bucket problems. `place` locates a dataset_config dataset (`datasets[0].`): it
 * prefixes the keys and the messages.
 */
export const checkSizes = (sizes: SizeOptions, place = ""): Array<ConfigProblem> => {
  const problems: Array<ConfigProblem> = []
  const at = place === "" ? "" : `${place.replace(/\.$/, "")}: `
  const error = (key: string, message: string) =>
    problems.push({ level: "error", key: `${place}${kohyaOptionName(key)}`, message: `${at}${message}` })
  const warn = (key: string, message: string) =>
    problems.push({ level: "warning", key: `${place}${kohyaOptionName(key)}`, message: `${at}${message}` })
  const { width, height } = sizes.resolution
  // The model's own multiple (64 for every published SD model) is checked once the checkpoint is read.
  if (width % 8 !== 0 || height % 8 !== 0) {
    error("resolution", `resolution ${width},${height} is not a multiple of 8 on each side, as the VAE needs`)
  }
  if (sizes.enableBucket) {
    const steps = sizes.bucketResoSteps
    if (steps % 64 !== 0) {
      error("bucketResoSteps", `bucket_reso_steps = ${steps} must be a multiple of 64 for SD 1.x/2.x`)
    }
    if (sizes.minBucketReso > sizes.maxBucketReso) {
      error(
        "minBucketReso",
        `min_bucket_reso = ${sizes.minBucketReso} is above max_bucket_reso = ${sizes.maxBucketReso}`,
      )
    }
    for (const key of ["minBucketReso", "maxBucketReso"] as const) {
      if (sizes[key] % steps !== 0) {
        error(
          key,
          `${kohyaOptionName(key)} = ${sizes[key]} is not a multiple of bucket_reso_steps = ${steps}`,
        )
      }
    }
    if (
      (width % steps !== 0 || height % steps !== 0) &&
      steps % 64 === 0 &&
      width % 64 === 0 &&
      height % 64 === 0
    ) {
      warn("resolution", `resolution ${width},${height} is not a multiple of bucket_reso_steps = ${steps}`)
    }
    if (Math.max(width, height) > sizes.maxBucketReso && !sizes.bucketNoUpscale) {
      warn(
        "maxBucketReso",
        `max_bucket_reso = ${sizes.maxBucketReso} is below the resolution's side ${Math.max(width, height)}: the tall and wide buckets are cut short`,
      )
    }
  }

  return problems
}

type Report = (key: string, message: string) => void

/** The LoRA's own options (`danlu train`). */
const checkNetwork = (config: TrainConfig, error: Report, warn: Report): void => {
  if (config.networkTrainUnetOnly && config.networkTrainTextEncoderOnly) {
    error(
      "networkTrainUnetOnly",
      "network_train_unet_only and network_train_text_encoder_only together train nothing; keep one",
    )
  }
  if (config.networkTrainTextEncoderOnly && config.textEncoderLr === 0) {
    error("textEncoderLr", "text_encoder_lr = 0 with network_train_text_encoder_only trains nothing")
  }
  if (config.networkTrainUnetOnly && config.unetLr === 0) {
    error("unetLr", "unet_lr = 0 with network_train_unet_only trains nothing")
  }
  const { convDim, convAlpha } = config.networkArgs
  if (convDim !== undefined && convAlpha === undefined) {
    warn(
      "network_args",
      `network_args conv_dim=${convDim} without conv_alpha: kohya uses conv_alpha=1, scaling the conv LoRA by 1/${convDim}; set conv_alpha (e.g. ${Math.max(1, convDim / 2)})`,
    )
  }
  if (convAlpha !== undefined && convDim === undefined) {
    warn("network_args", "network_args conv_alpha has no effect without conv_dim")
  }
  if (config.networkAlpha > config.networkDim) {
    warn(
      "networkAlpha",
      `network_alpha = ${plain(config.networkAlpha)} above network_dim = ${config.networkDim} amplifies the LoRA; the guide uses rank/2`,
    )
  }
}

/** Full fine-tuning's own options (`danlu finetune`, sd-scripts' train_db.py). */
const checkFineTuning = (config: TrainConfig, warn: Report): void => {
  if (config.stopTextEncoderTraining === -1 && config.learningRateTe !== undefined)
    warn(
      "learningRateTe",
      "learning_rate_te has no effect with stop_text_encoder_training = -1 (the text encoder is frozen)",
    )
  if (config.stopTextEncoderTraining === 0)
    warn(
      "stopTextEncoderTraining",
      "stop_text_encoder_training = 0 stops the text encoder before its first step; -1 freezes it and saves its memory",
    )
}

/**
 * Everything about a config that can be checked without reading the data or the model: contradictory
 * options, step and warm-up arithmetic, sizes, and the guide's advice on learning rate and batch. One
 * line per problem; errors first.
 */
export const checkTrainConfig = (
  config: TrainConfig,
  context: ConfigCheckContext = {},
): ReadonlyArray<ConfigProblem> => {
  const problems: Array<ConfigProblem> = []
  // Keys are fields (`networkDim`) or already kohya's names (`network_args`); kohyaOptionName maps both.
  const error = (key: string, message: string) =>
    problems.push({ level: "error", key: kohyaOptionName(key), message })
  const warn = (key: string, message: string) =>
    problems.push({ level: "warning", key: kohyaOptionName(key), message })

  if (config.pretrainedModelNameOrPath === undefined) {
    error("pretrainedModelNameOrPath", "pretrained_model_name_or_path is not set: name the base model")
  }
  if (config.trainDataDir === undefined && config.datasetConfig === undefined) {
    error(
      "trainDataDir",
      "no images: set train_data_dir (the parent of the 10_name folders) or dataset_config",
    )
  }
  if (config.outputDir === undefined) error("outputDir", "output_dir is not set: say where the LoRA files go")
  if (config.datasetConfig !== undefined) {
    for (const key of ["trainDataDir", "regDataDir"] as const) {
      if (config[key] !== undefined) {
        warn(key, `${kohyaOptionName(key)} is not read when dataset_config is set (as in sd-scripts)`)
      }
    }
  }

  // length and steps
  if (config.maxTrainEpochs === undefined && config.maxTrainSteps === defaultTrainConfig.maxTrainSteps) {
    warn(
      "maxTrainSteps",
      `max_train_epochs is not set, so training stops after max_train_steps = ${config.maxTrainSteps} (kohya's default); set max_train_epochs (the guide: 10)`,
    )
  }
  if (config.maxTrainEpochs !== undefined && config.maxTrainSteps !== defaultTrainConfig.maxTrainSteps) {
    warn(
      "maxTrainSteps",
      `max_train_steps = ${config.maxTrainSteps} has no effect: max_train_epochs = ${config.maxTrainEpochs} sets the length`,
    )
  }
  if (context.batchesPerEpoch !== undefined && context.batchesPerEpoch < 1) {
    error("trainBatchSize", "the data gives no batch: there are no images to train on")
  }
  const total = totalTrainSteps(config, context.batchesPerEpoch)
  if (total !== undefined && total >= 1) {
    const warmup = warmupSteps(config, total)
    if (warmup >= total) {
      error(
        "lrWarmupSteps",
        `lr_warmup_steps = ${plain(config.lrWarmupSteps)} is ${warmup} steps, not fewer than the run's ${total}: the learning rate would never reach learning_rate`,
      )
    }
  }
  if (config.lrWarmupSteps > 0 && config.lrScheduler === "constant") {
    warn(
      "lrWarmupSteps",
      `lr_warmup_steps = ${plain(config.lrWarmupSteps)} has no effect with lr_scheduler = "constant"; use "constant_with_warmup"`,
    )
  }
  if (config.lrScheduler === "adafactor" && config.optimizerType !== "AdaFactor") {
    error(
      "lrScheduler",
      `lr_scheduler = "adafactor" needs optimizer_type = "AdaFactor", not "${config.optimizerType}"`,
    )
  }

  // learning rate and batch
  const effectiveBatch = config.trainBatchSize * config.gradientAccumulationSteps
  const unetLr = config.unetLr ?? config.learningRate
  if (adaptiveOptimizers.has(config.optimizerType)) {
    if (config.learningRate < 0.1) {
      warn(
        "learningRate",
        `learning_rate = ${plain(config.learningRate)} with ${config.optimizerType}: it finds its own step size and wants learning_rate ≈ 1`,
      )
    }
    const rates = [config.unetLr, config.textEncoderLr].filter((lr) => lr !== undefined && lr !== 0)
    if (new Set(rates).size > 1) {
      warn(
        "textEncoderLr",
        `${config.optimizerType} uses one learning rate: unet_lr and text_encoder_lr differ`,
      )
    }
  } else if (!context.fineTuning && !config.networkTrainTextEncoderOnly && unetLr > 0) {
    const guide = guideLrPerImage * effectiveBatch
    const which = config.unetLr === undefined ? "learning_rate" : "unet_lr"
    const batch = `batch ${config.trainBatchSize}${config.gradientAccumulationSteps > 1 ? ` × ${config.gradientAccumulationSteps} accumulated` : ""}`
    if (unetLr > guide * 10) {
      warn(
        which,
        `${which} = ${plain(unetLr)} is high for ${batch}; the guide uses 2e-4 at batch 2, scaled with the batch (${plain(guide)} here); expect NaN or a burnt LoRA`,
      )
    } else if (unetLr < guide / 20) {
      const kohyaDefault =
        config.unetLr === undefined && config.learningRate === defaultTrainConfig.learningRate
      warn(
        which,
        `${which} = ${plain(unetLr)} is low for a LoRA at ${batch}${kohyaDefault ? " (kohya's default, meant for full fine-tuning)" : ""}; the guide uses 2e-4 at batch 2 (${plain(guide)} here)`,
      )
    }
  }

  // the network
  if (context.fineTuning) checkFineTuning(config, warn)
  else checkNetwork(config, error, warn)

  problems.push(...checkSizes(config))

  // augmentation, caching, captions
  if ((config.cacheLatents || config.cacheLatentsToDisk) && (config.colorAug || config.randomCrop)) {
    error(
      "cacheLatents",
      `cache_latents cannot be used with ${config.colorAug ? "color_aug" : "random_crop"}: a cached latent is the same every epoch`,
    )
  }
  if (config.cacheTextEncoderOutputs) {
    const frozen = context.fineTuning ? config.stopTextEncoderTraining === -1 : config.networkTrainUnetOnly
    if (!frozen) {
      error(
        "cacheTextEncoderOutputs",
        `cache_text_encoder_outputs needs ${context.fineTuning ? "stop_text_encoder_training = -1" : "network_train_unet_only"} (a frozen text encoder)`,
      )
    }
    const varying = [
      config.shuffleCaption ? "shuffle_caption" : undefined,
      config.captionDropoutRate > 0 ? "caption_dropout_rate" : undefined,
      config.captionTagDropoutRate > 0 ? "caption_tag_dropout_rate" : undefined,
      config.captionDropoutEveryNEpochs > 0 ? "caption_dropout_every_n_epochs" : undefined,
    ].filter((name) => name !== undefined)
    if (varying.length > 0) {
      error(
        "cacheTextEncoderOutputs",
        `cache_text_encoder_outputs cannot be used with ${varying.join(", ")}: the captions change every step`,
      )
    }
  }
  if (config.captionExtension !== "" && !config.captionExtension.startsWith(".")) {
    error(
      "captionExtension",
      `caption_extension = "${config.captionExtension}" has no leading dot: kohya would look for image${config.captionExtension}; write ".${config.captionExtension}"`,
    )
  }
  if (config.keepTokens > 0 && !config.shuffleCaption && config.captionTagDropoutRate === 0) {
    warn(
      "keepTokens",
      `keep_tokens = ${config.keepTokens} has no effect without shuffle_caption or tag dropout`,
    )
  }

  // noise, loss, precision
  if (config.noiseOffset !== undefined && config.multiresNoiseIterations !== undefined) {
    error("noiseOffset", "noise_offset and multires_noise_iterations cannot be used together; keep one")
  }
  if (config.adaptiveNoiseScale !== undefined && config.noiseOffset === undefined) {
    error("adaptiveNoiseScale", "adaptive_noise_scale needs noise_offset")
  }
  if (config.minTimestep >= config.maxTimestep) {
    error(
      "minTimestep",
      `min_timestep = ${config.minTimestep} is not below max_timestep = ${config.maxTimestep}`,
    )
  }
  if (config.vParameterization && !config.v2) {
    warn("vParameterization", "v_parameterization without v2: only SD 2.x 768-v models predict v")
  }
  if (config.scaleVPredLossLikeNoisePred && !config.vParameterization) {
    warn(
      "scaleVPredLossLikeNoisePred",
      "scale_v_pred_loss_like_noise_pred has no effect without v_parameterization",
    )
  }
  if (config.zeroTerminalSnr && !config.vParameterization) {
    warn(
      "zeroTerminalSnr",
      "zero_terminal_snr without v_parameterization: an ε-prediction model cannot learn the last step",
    )
  }
  const fullHalf = fullHalfMismatch(config)
  if (fullHalf !== undefined)
    error(config.fullFp16 && config.mixedPrecision !== "fp16" ? "fullFp16" : "fullBf16", fullHalf)
  // WGSL has no bf16: WebGPU reads bf16 weights but cannot write them (ADR 0011 §4); training says so too.
  else if (config.fullBf16 && config.backend === "webgpu")
    error(
      "fullBf16",
      "full_bf16 cannot run on the webgpu backend: it cannot write bf16 weights; use full_fp16 with mixed_precision fp16, or another backend",
    )

  // saving and sampling
  if (
    config.saveEveryNEpochs !== undefined &&
    config.maxTrainEpochs !== undefined &&
    config.saveEveryNEpochs >= config.maxTrainEpochs
  ) {
    warn(
      "saveEveryNEpochs",
      `save_every_n_epochs = ${config.saveEveryNEpochs} with max_train_epochs = ${config.maxTrainEpochs}: only the final file is written (the guide: every 2 of 10 epochs)`,
    )
  }
  if (config.saveLastNEpochs !== undefined && config.saveEveryNEpochs === undefined) {
    warn("saveLastNEpochs", "save_last_n_epochs has no effect without save_every_n_epochs")
  }
  if (config.saveLastNSteps !== undefined && config.saveEveryNSteps === undefined) {
    warn("saveLastNSteps", "save_last_n_steps has no effect without save_every_n_steps")
  }
  const samples =
    config.sampleEveryNEpochs !== undefined || config.sampleEveryNSteps !== undefined || config.sampleAtFirst
  if (samples && config.samplePrompts === undefined) {
    warn("samplePrompts", "sample images are asked for but sample_prompts is not set: none will be drawn")
  }
  if (config.resume !== undefined && config.networkWeights !== undefined) {
    warn("networkWeights", "network_weights is replaced by the LoRA in the resume state")
  }

  return [
    ...problems.filter((problem) => problem.level === "error"),
    ...problems.filter((p) => p.level === "warning"),
  ]
}
