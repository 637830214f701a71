import {
  type ConfigProblem,
  checkTrainConfig,
  familyLabel,
  formatIgnoredOption,
  resolveTrainConfig,
  type TrainConfig,
  totalTrainSteps,
} from "@danlu/core"
import { inspectModelPath } from "@danlu/core/node"
import { checkDataset, sizingOf } from "@danlu/dataset"
import { Console, Effect, Exit, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { exists } from "../fileExists.js"
import { showProgress } from "../progress/showProgress.js"
import { readTrainConfigFile } from "../train/configFile.js"
import { estimateRun, memorySize, type RunEstimate } from "../train/estimateRun.js"
import { UserError } from "../userError.js"
import { switchFlag } from "./switchFlag.js"

/** What `config check` learned besides the problems: the data's steps and the model. */
interface CheckFacts {
  stepsPerEpoch?: number
  totalSteps?: number
  images?: number
  family?: string
  parameters?: number
  /** The base model's weights in f32. */
  weightBytes?: number
  /** Buckets of the data (each compiles its own step program) and the largest, which is measured. */
  buckets?: number
  largestBucket?: { readonly width: number; readonly height: number }
}

/** The model checks: the file exists and is a trainable base, and a `network_weights` LoRA matches it. */
const checkModel = (config: TrainConfig, facts: CheckFacts) =>
  Effect.gen(function* () {
    const problems: Array<ConfigProblem> = []
    const path = config.pretrainedModelNameOrPath
    if (path === undefined) {
      problems.push({ level: "error", key: "pretrained_model_name_or_path", message: "no base model is set" })
      return problems
    }
    const exit = yield* Effect.exit(inspectModelPath(path))
    if (Exit.isFailure(exit)) {
      const failure = exit.cause.reasons[0]
      const message =
        failure && "error" in failure ? (failure.error as { message: string }).message : String(exit.cause)
      problems.push({ level: "error", key: "pretrained_model_name_or_path", message })
      return problems
    }
    const model = exit.value
    if (model.kind !== "checkpoint") {
      problems.push({
        level: "error",
        key: "pretrained_model_name_or_path",
        message: `${path} is a LoRA, not a base model`,
      })
      return problems
    }
    const family = model.checkpoint.family
    facts.family = family === undefined ? "unknown" : familyLabel[family]
    facts.parameters = model.checkpoint.total.parameters
    facts.weightBytes = model.checkpoint.total.parameters * 4
    if (family === undefined || family === "sdxl-refiner") {
      problems.push({
        level: "error",
        key: "pretrained_model_name_or_path",
        message: `${path} is ${family === undefined ? "not an SD1.x, SD2.x or SDXL checkpoint" : "an SDXL refiner, which LoRAs are not trained on"}`,
      })
    }
    if ((family === "sd2" || family === "sdxl") !== (config.v2 || family === "sdxl") && config.v2) {
      problems.push({ level: "warning", key: "v2", message: `v2 is set but the model is ${facts.family}` })
    }
    if (config.networkWeights !== undefined) {
      const lora = yield* Effect.exit(inspectModelPath(config.networkWeights))
      if (Exit.isSuccess(lora) && lora.value.kind === "lora") {
        const loraFamily = lora.value.lora.family
        if (loraFamily !== undefined && family !== undefined && loraFamily !== family)
          problems.push({
            level: "error",
            key: "network_weights",
            message: `${config.networkWeights} is a ${familyLabel[loraFamily]} LoRA and the base model is ${familyLabel[family]}`,
          })
      } else {
        problems.push({
          level: "error",
          key: "network_weights",
          message: `${config.networkWeights} is not a LoRA file danlu can read`,
        })
      }
    }
    return problems
  })

/** The data checks, through `danlu dataset check`'s report: errors for what training cannot read. */
const checkData = (config: TrainConfig, facts: CheckFacts, json: boolean) =>
  Effect.gen(function* () {
    const problems: Array<ConfigProblem> = []
    const dir = config.trainDataDir
    if (dir === undefined) {
      if (config.datasetConfig === undefined)
        problems.push({
          level: "error",
          key: "train_data_dir",
          message: "no training images: set train_data_dir",
        })
      return problems
    }
    if (!(yield* exists(dir))) {
      problems.push({ level: "error", key: "train_data_dir", message: `${dir} does not exist` })
      return problems
    }
    const report = yield* checkDataset(dir, {
      ...(config.regDataDir === undefined ? {} : { regularizationRoot: config.regDataDir }),
      sizing: sizingOf(config),
      batchSize: config.trainBatchSize,
      captionExtension: config.captionExtension,
    }).pipe(showProgress({ json }))
    facts.images = report.totals.images
    facts.stepsPerEpoch = report.totals.stepsPerEpoch
    if (report.buckets.length > 0) {
      facts.buckets = report.buckets.length
      facts.largestBucket = report.buckets
        .map((bin) => bin.bucket)
        .reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a))
    }
    if (report.totals.images === 0)
      problems.push({
        level: "error",
        key: "train_data_dir",
        message: `${dir} has no images in <repeats>_<name> folders (train_data_dir is their parent)`,
      })
    for (const failure of report.problems.decodeFailures)
      problems.push({
        level: "error",
        key: "train_data_dir",
        message: `cannot decode ${failure.path}: ${failure.reason}`,
      })
    for (const path of report.problems.noBucket)
      problems.push({
        level: "error",
        key: "train_data_dir",
        message: `${path} is too small for any bucket without upscaling`,
      })
    if (report.captions.missing.length > 0)
      problems.push({
        level: "warning",
        key: "caption_extension",
        message: `${report.captions.missing.length} images have no ${config.captionExtension} caption and train on their folder's name${report.captions.otherExtension ? ` (${report.captions.otherExtension.count} have ${report.captions.otherExtension.extension} captions: set caption_extension)` : ""}`,
      })
    for (const advice of report.advice)
      if (advice.level === "warning")
        problems.push({ level: "warning", key: "train_data_dir", message: advice.message })
    return problems
  })

export const configCheck = Command.make(
  "check",
  {
    file: Argument.String("config").pipe(Argument.withDescription("a kohya / 秋叶 training TOML")),
    json: switchFlag("json", "print the problems, the step arithmetic and the estimate as JSON"),
    noMeasure: switchFlag(
      "no-measure",
      "estimate memory from the model's size only, without compiling and timing a short run on the backend",
    ),
    memory: Flag.Finite("memory").pipe(
      Flag.withDescription("GiB to check the run against instead of this machine's memory, e.g. 16"),
      Flag.optional,
    ),
  },
  ({ file, json, noMeasure, memory }) =>
    Effect.gen(function* () {
      const { options, ignored } = yield* readTrainConfigFile(file)
      const config = resolveTrainConfig(options)
      const facts: CheckFacts = {}
      const problems: Array<ConfigProblem> = [
        ...(yield* checkModel(config, facts)),
        ...(yield* checkData(config, facts, json)),
      ]
      problems.push(
        ...checkTrainConfig(
          config,
          facts.stepsPerEpoch === undefined ? {} : { batchesPerEpoch: facts.stepsPerEpoch },
        ),
      )
      const total = totalTrainSteps(config, facts.stepsPerEpoch)
      if (total !== undefined) facts.totalSteps = total
      // Memory and time only for a run that could start: a broken config is fixed first.
      let estimate: RunEstimate | undefined
      const modelPath = config.pretrainedModelNameOrPath
      if (modelPath !== undefined && !problems.some((p) => p.level === "error")) {
        if (!noMeasure && !json) yield* Console.error(`measuring a short training run on ${config.backend}…`)
        estimate = yield* Effect.scoped(
          estimateRun(config, modelPath, {
            totalSteps: facts.totalSteps,
            shapes: facts.buckets ?? 1,
            bucket: facts.largestBucket ?? config.resolution,
            measure: !noMeasure,
            memoryLimit: Option.isSome(memory) ? memory.value * 2 ** 30 : undefined,
          }),
        )
        problems.push(...estimate.problems)
      }
      const sorted = [...problems].sort((a, b) => (a.level === b.level ? 0 : a.level === "error" ? -1 : 1))
      if (json) {
        yield* Console.log(
          JSON.stringify(
            {
              file,
              problems: sorted,
              ignored,
              ...facts,
              ...(estimate === undefined
                ? {}
                : {
                    estimate:
                      estimate.estimate === undefined
                        ? null
                        : {
                            ...estimate.estimate,
                            totalSeconds: estimate.estimate.totalSeconds ?? null,
                            measured: estimate.measured ?? null,
                          },
                  }),
            },
            null,
            2,
          ),
        )
      } else {
        for (const option of ignored) yield* Console.log(`ignored: ${formatIgnoredOption(option)}`)
        for (const problem of sorted)
          yield* Console.log(`${problem.level}: ${problem.key}: ${problem.message}`)
        for (const line of estimate?.lines ?? []) yield* Console.log(line)
        const summary = [
          facts.family &&
            `model ${facts.family}${facts.parameters ? `, ${(facts.parameters / 1e6).toFixed(0)} M parameters (${memorySize(facts.weightBytes ?? 0)} of f32 weights)` : ""}`,
          facts.images !== undefined && `${facts.images} images`,
          facts.stepsPerEpoch !== undefined && `${facts.stepsPerEpoch} steps per epoch`,
          facts.totalSteps !== undefined && `${facts.totalSteps} steps in all`,
        ].filter(Boolean)
        yield* Console.log(
          `${sorted.some((p) => p.level === "error") ? "✗" : "✓"} ${file}${summary.length ? `: ${summary.join(", ")}` : ""}`,
        )
      }
      const errors = sorted.filter((p) => p.level === "error").length
      if (errors > 0)
        return yield* new UserError({
          message: `${errors} problem${errors === 1 ? "" : "s"} to fix before training`,
        })
    }),
).pipe(Command.withDescription("调参: check a training config before a long run — one line per problem"))

export const config = Command.make("config").pipe(
  Command.withDescription("training configs: check"),
  Command.withSubcommands([configCheck]),
)
