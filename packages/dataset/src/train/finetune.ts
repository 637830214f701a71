import { stat } from "node:fs/promises"
import { join } from "node:path"
import {
  architectureMetadataKey,
  asBackendError,
  type Backend,
  type BatchShape,
  clipTokenizer,
  conditionedUNet,
  conditioningInputs,
  type DType,
  fineTuneGroups,
  fineTuneInputNames,
  type LrGroup,
  makeOptimizer,
  paramSpec,
  runTrainingLoop,
  type SavePoint,
  T,
  type Tensor,
  type TrainConfig,
  type TrainResult,
  textConditioning,
  WeightScope,
} from "@danlu/core"
import { checkpointTrainSink } from "@danlu/core/node"
import { Effect, type Scope } from "effect"
import type { DatasetConfig } from "../config/datasetConfig.js"
import { DatasetError } from "../errors.js"
import { batchInputs } from "./batchInputs.js"
import { checkpointModelspec } from "./checkpointMetadata.js"
import { loopScheduleOf, validationLossLog } from "./loopSchedule.js"
import { pyBool, pyFloat, pyInt } from "./pythonStr.js"
import { readResumeState, runIdentity, runIdentityKey } from "./runIdentity.js"
import { isTrainingStateOf, scalarTensor, stepCounterInputs, stepGraphs } from "./runSteps.js"
import { stepOptionsOf } from "./stepOptionsOf.js"
import { cachedConditioning } from "./textEncoderCache.js"
import { optimizerArgStrings, type TrainRunHooks } from "./train.js"
import { trainingSamples } from "./trainingSamples.js"
import { cachedTextOutputs, prepareTraining } from "./trainingSetup.js"
import { runEventTeller } from "./trainRunEvents.js"

const fail = (message: string) => new DatasetError({ message })

/**
 * `save_precision` as the checkpoint stores it; unset keeps the dtype the weights were trained in: f32, or
 * the half dtype of `full_fp16` / `full_bf16` (kohya saves them as they are then).
 */
const saveDType = (precision: TrainConfig["savePrecision"], trained: DType | undefined) =>
  precision === "fp16" || (precision === undefined && trained === "f16")
    ? "F16"
    : precision === "bf16" || (precision === undefined && trained === "bf16")
      ? "BF16"
      : precision === "float"
        ? "F32"
        : undefined

/**
 * Full fine-tuning as sd-scripts' `train_db.py` does it, on the backend in the Effect context: every weight
 * of the UNet trained at `learning_rate`, the text encoder(s) at `learning_rate_te` until
 * `stop_text_encoder_training` (−1: frozen, which also allows `cache_text_encoder_outputs`), on the same kohya
 * folders, latent cache, noise and loss options as LoRA training. At kohya's save points it writes
 * `output_name(.safetensors|-00000N|-step…)`: the base checkpoint in its original LDM layout with the trained
 * weights replaced (the VAE and every untrained tensor copied), and resumable states beside them. Sample
 * images during training are drawn from the checkpoint of the moment; every refusal is one line before the
 * first step.
 */
export const finetune = (
  config: TrainConfig,
  hooks: TrainRunHooks,
  dataset?: DatasetConfig,
): Effect.Effect<TrainResult, unknown, Backend | Scope.Scope> =>
  Effect.gen(function* () {
    const tell = yield* runEventTeller(hooks.emit)
    const stopTextEncoder = config.stopTextEncoderTraining
    const trainTextEncoder = stopTextEncoder !== -1
    const setup = yield* prepareTraining(config, hooks, dataset, {
      frozenTextEncoder: !trainTextEncoder,
      frozenTextEncoderOption: "stop_text_encoder_training = -1",
    })
    const {
      architecture,
      data,
      file,
      readWeight,
      storage,
      trainedStorage,
      seed,
      totalSteps,
      epochs,
      accumulation,
    } = setup

    const tokenizer = yield* clipTokenizer
    const textCache = yield* cachedTextOutputs(config, setup, tokenizer)
    if (textCache) tell({ type: "captions", encoded: textCache.outputs.size })

    /**
     * The model on a fresh scope, its trained weights held as `full_fp16` / `full_bf16` say (f32 without); a
     * frozen text encoder is built on a scope of its own, so it is not trained.
     */
    const buildModel = (shape: BatchShape) => {
      const scope = WeightScope.root(trainedStorage === undefined ? {} : { storage: trainedStorage })
      const latents = T.input("latents", [shape.batch, ...shape.latentShape])
      const conditioning = textCache
        ? cachedConditioning(architecture, textCache, shape.batch)
        : textConditioning(
            // A frozen text encoder is held as mixed_precision says.
            trainTextEncoder ? scope : WeightScope.root(storage === undefined ? {} : { storage }),
            architecture,
            conditioningInputs(architecture, shape.batch),
            config.clipSkip,
            { gradientCheckpointing: config.gradientCheckpointing },
          )
      const model = conditionedUNet(scope, architecture, conditioning, {
        gradientCheckpointing: config.gradientCheckpointing,
      })
      // The prediction the step builds, so that the groups take the weights it reads.
      let prediction: Tensor | undefined
      const denoise = (x: Tensor, timesteps: Tensor) => {
        prediction = model(x, timesteps)
        return prediction
      }
      const trainableGroups = () => fineTuneGroups(scope, prediction!)
      return { latents, denoise, trainableGroups }
    }
    // Recording the model throws a typed ShapeError for what it cannot build (e.g. clip_skip beyond the layers).
    const trainedGroups = yield* Effect.try({
      try: () => {
        const probe = buildModel(data.shapes[0]!)
        probe.denoise(probe.latents, T.input("t", [data.shapes[0]!.batch]))
        return probe.trainableGroups().map((group) => group.trainables)
      },
      catch: (cause) => asBackendError(cause, "danlu", "building the model"),
    })
    const trained = trainedGroups.flat().map((tensor) => tensor.attrs.name)
    const trainedSet = new Set(trained)

    const groups: Array<LrGroup> = [
      { name: "unet", input: fineTuneInputNames.unetLr, baseLr: config.learningRate },
      ...(trainTextEncoder && !textCache
        ? [
            {
              name: "textencoder",
              input: fineTuneInputNames.textEncoderLr,
              baseLr: config.learningRateTe ?? config.learningRate,
            },
          ]
        : []),
    ]
    const optimizer = makeOptimizer(config.optimizerType, optimizerArgStrings(config.optimizerArgs))
    // The optimizer's states follow the step's groups (AdamW packs each group's moments in one vector).
    const paramGroups = trainedGroups.map((group) => group.map(paramSpec))
    const optimizerInitial = optimizer.initialState(paramGroups)
    const { stepGraph, validationGraph, stepInitial } = stepGraphs({
      train: (shape) => {
        const { latents, denoise, trainableGroups } = buildModel(shape)
        return { latents, denoise, groups: trainableGroups }
      },
      validate: (shape) => buildModel(shape),
      optimizer,
      optimizerStates: optimizerInitial,
      options: stepOptionsOf(config, architecture, data.masked),
    })

    const startedAt = Math.floor(Date.now() / 1000)
    const modelStat = yield* Effect.tryPromise({
      try: () => stat(setup.modelPath),
      catch: () => fail(`cannot stat ${setup.modelPath}`),
    })
    const modelName = setup.modelPath.split(/[\\/]/).pop() ?? setup.modelPath
    const {
      network_dim: _dim,
      network_alpha: _alpha,
      network_args: _args,
      network_train_unet_only: _unetOnly,
      network_train_text_encoder_only: _teOnly,
      ...shared
    } = runIdentity(config, seed, { name: modelName, size: modelStat.size }, data)
    const identity = {
      ...shared,
      training: "full fine-tuning",
      stop_text_encoder_training: String(stopTextEncoder ?? "None"),
      cache_text_encoder_outputs: String(config.cacheTextEncoderOutputs),
    }
    const resume = yield* readResumeState(config.resume, identity, { optimizer, groups: paramGroups })

    const embedded = file.metadata[architectureMetadataKey]
    const validationLosses = validationLossLog()
    const metadata = (point: SavePoint): Record<string, string> => ({
      ...(embedded === undefined ? {} : { [architectureMetadataKey]: embedded }),
      ...(config.noMetadata
        ? {}
        : {
            ss_training_started_at: String(startedAt),
            ss_training_finished_at: String(Math.floor(Date.now() / 1000)),
            ss_output_name: setup.outputName,
            ss_sd_model_name: modelName,
            ss_learning_rate: pyFloat(config.learningRate),
            ss_learning_rate_te: pyFloat(config.learningRateTe ?? config.learningRate),
            ss_stop_text_encoder_training: pyInt(stopTextEncoder),
            ss_optimizer: `${optimizer.type}(${Object.entries(config.optimizerArgs)
              .map(([k, v]) => `${k}=${v}`)
              .join(",")})`,
            ss_lr_scheduler: config.lrScheduler,
            ss_max_train_steps: String(totalSteps),
            ss_num_epochs: String(epochs),
            ss_num_train_images: String(data.trainImageCount),
            ss_num_reg_images: String(data.regImageCount),
            ss_num_batches_per_epoch: String(data.batchesPerEpoch),
            ss_gradient_accumulation_steps: String(accumulation),
            ss_max_grad_norm: pyFloat(config.maxGradNorm),
            ss_mixed_precision: config.mixedPrecision,
            ss_full_fp16: pyBool(config.fullFp16),
            ss_full_bf16: pyBool(config.fullBf16),
            ss_seed: String(seed),
            ss_clip_skip: pyInt(config.clipSkip),
            ss_epoch: String(point.epoch),
            ss_steps: String(point.step),
            ss_training_comment: config.trainingComment ?? "None",
            ...validationLosses.metadata(),
          }),
      ...checkpointModelspec(config, architecture, setup.outputName, new Date()),
    })
    const sink = checkpointTrainSink({
      outputDir: setup.outputDir,
      outputName: setup.outputName,
      base: file,
      trainedStates: trained,
      savePrecision: saveDType(config.savePrecision, trainedStorage),
      metadata,
      stateMetadata: { [runIdentityKey]: JSON.stringify(identity) },
    })

    // Samples at points without a saved file are drawn from the current weights, written beside them.
    const currentModel = checkpointTrainSink({
      outputDir: join(setup.outputDir, "sample", ".model"),
      outputName: `${setup.outputName}-current`,
      base: file,
      trainedStates: trained,
      metadata,
    })
    const sample = yield* trainingSamples(
      config,
      setup.outputDir,
      setup.outputName,
      (point) => currentModel.saveNetwork({ ...point, kind: "final" }),
      (path) => tell({ type: "sample", path }),
      "checkpoint",
    )

    return yield* runTrainingLoop({
      saves: "checkpoint",
      sample,
      data,
      stepGraph,
      validationGraph: data.validation.length > 0 ? validationGraph : undefined,
      batchInputs: (batch) => batchInputs(architecture, tokenizer, data.masked, batch, textCache),
      stepInputs: (step) => ({
        ...stepCounterInputs(seed, accumulation)(step),
        // kohya stops the text encoder when global_step (steps done) reaches stop_text_encoder_training.
        ...(groups.length > 1
          ? {
              [fineTuneInputNames.textEncoderActive]: scalarTensor(
                stopTextEncoder === undefined || step.optimizerStep - 1 < stopTextEncoder ? 1 : 0,
              ),
            }
          : {}),
      }),
      initialState: (spec) =>
        Effect.suspend(() => {
          const known = optimizerInitial[spec.name] ?? stepInitial(spec.name)
          return known ? Effect.succeed(known) : readWeight(spec.name, spec.shape, spec.dtype)
        }),
      isTrainingState: isTrainingStateOf(trainedSet),
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
  })
