import { freemem, totalmem } from "node:os"
import {
  architectureOf,
  baseWeightStorage,
  type ConfigProblem,
  DeviceOutOfMemory,
  detectCheckpoint,
  estimateTraining,
  type MeasuredStep,
  networkSize,
  ShapeError,
  type TrainConfig,
  type TrainEstimate,
  trainedWeightStorage,
} from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { Cause, Effect, Exit } from "effect"
import { measureStep } from "./measureStep.js"

/** "15.2 GiB", "340 MiB", "12 KiB" */
export const memorySize = (bytes: number): string =>
  bytes >= 2 ** 30
    ? `${(bytes / 2 ** 30).toFixed(1)} GiB`
    : bytes >= 2 ** 20
      ? `${Math.round(bytes / 2 ** 20)} MiB`
      : `${Math.ceil(bytes / 2 ** 10)} KiB`

/** "1 h 23 min", "4 min 05 s", "12.3 s" */
export const duration = (seconds: number): string => {
  if (seconds < 60) return `${seconds.toFixed(1)} s`
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return h > 0 ? `${h} h ${String(m).padStart(2, "0")} min` : `${m} min ${String(s % 60).padStart(2, "0")} s`
}

const messageOf = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

export interface RunEstimateOptions {
  readonly totalSteps: number | undefined
  /** Buckets of the run; each compiles its own step program. */
  readonly shapes: number
  /** The bucket the step is measured on: the largest. */
  readonly bucket: { readonly width: number; readonly height: number }
  readonly measure: boolean
  /** Bytes to check against instead of this machine's memory. */
  readonly memoryLimit?: number | undefined
}

export interface RunEstimate {
  /** Undefined when the model cannot be built with the config (the problem says why). */
  readonly estimate: TrainEstimate | undefined
  readonly measured: MeasuredStep | undefined
  /** One line per finding, for the text report. */
  readonly lines: ReadonlyArray<string>
  readonly problems: ReadonlyArray<ConfigProblem>
}

/**
 * `config check`'s memory and time estimate: the static bytes from the model and the network first (a run
 * whose weights alone exceed the memory is refused without measuring), then a short measured run of the
 * largest bucket's step on the chosen backend, unless `measure` is off.
 */
export const estimateRun = (config: TrainConfig, modelPath: string, options: RunEstimateOptions) =>
  Effect.gen(function* () {
    const file = yield* openModelFile(modelPath)
    const detected = yield* detectCheckpoint(file)
    const architecture = yield* architectureOf(file, {
      family: detected.family,
      prediction: config.vParameterization ? "v" : detected.prediction,
    })
    // The model is recorded with the config's options; what it cannot build (a clip_skip beyond the text
    // encoder's layers) is the config's error, as training would find it.
    const built = yield* Effect.exit(
      Effect.try({ try: () => networkSize(architecture, config), catch: (cause) => cause }),
    )
    if (Exit.isFailure(built)) {
      const cause = Cause.squash(built.cause)
      const problem: ConfigProblem = {
        level: "error",
        key:
          cause instanceof ShapeError && cause.op === "clipSkip"
            ? "clip_skip"
            : "pretrained_model_name_or_path",
        message: `this model cannot be trained with this config: ${cause instanceof ShapeError ? cause.detail : String(cause)}`,
      }
      return {
        estimate: undefined,
        measured: undefined,
        lines: [],
        problems: [problem],
      } satisfies RunEstimate
    }
    const network = built.value
    const baseParameters = file.tensors
      .filter((t) => !t.name.startsWith("model_ema."))
      .reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0)
    // What this process may use: the free memory plus what it holds already.
    const memory =
      options.memoryLimit === undefined
        ? { totalBytes: totalmem(), freeBytes: freemem() + process.memoryUsage().rss }
        : { totalBytes: options.memoryLimit, freeBytes: options.memoryLimit }
    const storage: "f32" | "f16" | "bf16" = baseWeightStorage(config.mixedPrecision) ?? "f32"
    const held = trainedWeightStorage(config)
    const input = {
      baseParameters,
      baseWeightStorage: storage,
      network,
      gradientAccumulationSteps: config.gradientAccumulationSteps,
      totalSteps: options.totalSteps,
      shapes: options.shapes,
      memory,
    }
    const before = estimateTraining(input)
    const lines = [
      `memory: ${memorySize(before.staticBytes)} before activations: base weights ${memorySize(before.baseWeightBytes)} (${storage}), LoRA ${(network.parameters / 1e6).toFixed(1)} M parameters${held === undefined ? "" : ` (${held})`} with gradients and ${config.optimizerType} state ${memorySize(before.networkBytes)}`,
    ]
    const problems: Array<ConfigProblem> = []
    const memoryText = `${memorySize(memory.totalBytes)}${options.memoryLimit === undefined ? ` (${memorySize(memory.freeBytes)} free)` : " (--memory)"}`
    if (before.fits === "no") {
      problems.push({
        level: "error",
        key: "pretrained_model_name_or_path",
        message: `the weights alone need ${memorySize(before.staticBytes)}, more than the ${memoryText} there is: train on a machine with more memory`,
      })
      return { estimate: before, measured: undefined, lines, problems } satisfies RunEstimate
    }
    if (!options.measure)
      return { estimate: before, measured: undefined, lines, problems } satisfies RunEstimate

    const exit = yield* Effect.exit(measureStep(config, options.bucket))
    if (Exit.isFailure(exit)) {
      const cause = Cause.squash(exit.cause)
      // Running out of memory is the measurement's answer, not its failure.
      if (cause instanceof DeviceOutOfMemory) {
        problems.push({
          level: "error",
          key: "train_batch_size",
          message: `a step at ${options.bucket.width}×${options.bucket.height}, batch ${config.trainBatchSize} does not fit: ${cause.message}`,
        })
        return {
          estimate: { ...before, fits: "no" },
          measured: undefined,
          lines,
          problems,
        } satisfies RunEstimate
      }
      problems.push({
        level: "warning",
        key: "backend",
        message: `could not measure a training step on ${config.backend}: ${messageOf(cause)}`,
      })
      return { estimate: before, measured: undefined, lines, problems } satisfies RunEstimate
    }
    const measured = exit.value
    const estimate = estimateTraining({ ...input, measured })
    lines.push(
      `measured on ${config.backend}: compiling the step for ${measured.shape} took ${duration(measured.compileSeconds)}; the first step ${duration(measured.warmupSeconds)}, then ${duration(measured.stepSeconds)} a step; peak memory ${memorySize(measured.peakBytes)} (process RSS${config.backend === "webgpu" ? "; the GPU's own memory is not counted" : ""})`,
    )
    if (estimate.totalSeconds !== undefined && options.totalSteps !== undefined) {
      const micro =
        config.gradientAccumulationSteps > 1 ? ` × ${config.gradientAccumulationSteps} micro-steps` : ""
      lines.push(
        `time: about ${duration(estimate.totalSeconds)} for ${options.totalSteps} steps (${options.totalSteps}${micro} × ${duration(measured.stepSeconds)} + ${options.shapes} bucket shape${options.shapes === 1 ? "" : "s"} × ${duration(measured.compileSeconds)} compiling)`,
      )
    }
    if (estimate.fits === "yes") lines.push(`fits: peak ${memorySize(estimate.peakBytes)} of ${memoryText}`)
    if (estimate.fits === "tight")
      problems.push({
        level: "warning",
        key: "train_batch_size",
        message: `a step peaks at ${memorySize(estimate.peakBytes)}, more than the ${memorySize(memory.freeBytes)} free now (of ${memorySize(memory.totalBytes)}): close other programs, or lower train_batch_size or the resolution`,
      })
    if (estimate.fits === "no")
      problems.push({
        level: "error",
        key: "train_batch_size",
        message: `a step peaks at ${memorySize(estimate.peakBytes)}, more than the ${memoryText} there is: lower train_batch_size or the resolution, or turn on gradient_checkpointing`,
      })
    return { estimate, measured, lines, problems } satisfies RunEstimate
  })
