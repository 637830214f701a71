import { join } from "node:path"
import { checkTrainConfig, type TrainConfig } from "@danlu/core"
import {
  checkDatasetConfig,
  finetune,
  openTrainLogs,
  type TrainLogs,
  type TrainRunEvent,
  train,
  writeLossCurve,
} from "@danlu/dataset"
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
import { backendEntries } from "../backends/registry.js"
import { showProgress } from "../progress/showProgress.js"
import { resolveTrainFlags, type TrainFlagValue, type TrainingCommand, trainFlags } from "../train/flags.js"
import { UserError } from "../userError.js"
import { switchFlag } from "./switchFlag.js"

const backendNames: Readonly<Record<TrainConfig["backend"], string>> = {
  reference: "reference",
  onnx: "onnxruntime",
  webgpu: "webgpu",
}

/** Loads the run's backend; a missing native module or device is one line naming the alternatives. */
export const backendLayer = (name: TrainConfig["backend"]) =>
  Effect.gen(function* () {
    const entry = backendEntries.find((e) => e.name === backendNames[name])
    if (!entry) return yield* new UserError({ message: `unknown backend ${name}` })
    return yield* Effect.tryPromise({
      try: entry.load,
      catch: (cause) =>
        new UserError({
          message: `backend ${name} cannot load here (${cause instanceof Error ? cause.message.split("\n")[0] : String(cause)}); pick another with --backend`,
        }),
    })
  })

/**
 * Ctrl-C asks the run to stop after the current step (it then writes a resumable state); a second Ctrl-C
 * leaves at once, which is safe because every file is written atomically.
 */
const stopOnInterrupt = () => {
  let requested = false
  const onSignal = () => {
    if (requested) process.exit(130)
    requested = true
    process.stderr.write(
      "\ndanlu: stopping after this step to write a resumable state (Ctrl-C again to quit now)\n",
    )
  }
  process.prependListener("SIGINT", onSignal)
  return {
    stopRequested: () => requested,
    dispose: () => process.removeListener("SIGINT", onSignal),
  }
}

/** The command line that continues an interrupted run: the same arguments with `--resume <state>`. */
const resumeCommand = (args: ReadonlyArray<string>, state: string): string => {
  const kept: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--resume") {
      i++
      continue
    }
    if (args[i]!.startsWith("--resume=")) continue
    kept.push(/^[\w./:=,-]+$/.test(args[i]!) ? args[i]! : JSON.stringify(args[i]))
  }
  return `danlu ${[...kept, "--resume", JSON.stringify(state)].join(" ")}`
}

/**
 * What `danlu train` and `danlu finetune` share: the flags and files resolved and checked, the backend
 * loaded, the run with Ctrl-C asking for a resumable stop, the logs, the loss curve and the resume command.
 */
export const runTrainingCommand = (
  command: TrainingCommand,
  kohya: Readonly<Record<string, TrainFlagValue>>,
  json: boolean,
) =>
  Effect.gen(function* () {
    const { config, dataset, ignored } = yield* resolveTrainFlags(kohya, command)
    for (const option of ignored) yield* Console.error(`danlu: ignoring ${option.key}: ${option.reason}`)
    const problems = [
      ...checkTrainConfig(config, { fineTuning: command === "finetune" }),
      ...(dataset === undefined ? [] : checkDatasetConfig(dataset, config)),
    ].sort((a, b) => (a.level === b.level ? 0 : a.level === "error" ? -1 : 1))
    for (const problem of problems.filter((p) => p.level === "warning"))
      yield* Console.error(`danlu: warning: ${problem.message}`)
    const error = problems.find((p) => p.level === "error")
    if (error) return yield* new UserError({ message: error.message })

    const layer = yield* backendLayer(config.backend)
    const stop = stopOnInterrupt()
    let logs: TrainLogs | undefined
    const losses: Array<{ step: number; loss: number; average: number }> = []
    // The run shows itself through the Progress service; its events feed the logs and the loss curve.
    const emit = (event: TrainRunEvent) => {
      if (event.type === "step")
        losses.push({ step: event.step, loss: event.loss, average: event.averageLoss })
      if (logs === undefined && config.loggingDir !== undefined && event.type === "start")
        logs = openTrainLogs(config.loggingDir, config.logPrefix ?? "")
      if (
        event.type !== "model" &&
        event.type !== "dataset" &&
        event.type !== "sample" &&
        event.type !== "captions"
      )
        logs?.record(event)
    }
    const hooks = { emit, stopRequested: stop.stopRequested }
    // Ctrl-C reaches the run through `stopRequested`; the runtime's own interruption waits until the
    // state is written and the resume command printed.
    yield* Effect.gen(function* () {
      const result = yield* Effect.scoped(
        command === "train" ? train(config, hooks, dataset) : finetune(config, hooks, dataset),
      ).pipe(showProgress({ json, jsonTo: "stdout" }), Effect.provide(layer))
      const outputName = config.outputName ?? "last"
      if (losses.length > 0) {
        const curve = join(config.outputDir!, `${outputName}-loss.png`)
        yield* Effect.promise(() => writeLossCurve(curve, losses, `${outputName}: loss by step`))
        if (!json) yield* Console.error(`loss curve: ${curve}`)
      }
      if (result.interrupted && result.statePath) {
        yield* Console.error(`danlu: stopped at step ${result.progress.step}; continue with:`)
        yield* Console.error(`  ${resumeCommand(process.argv.slice(2), result.statePath)}`)
        return yield* new UserError({ message: "training was interrupted (the state above resumes it)" })
      }
      if (!json && result.finalPath) yield* Console.log(`trained: ${result.finalPath}`)
    }).pipe(Effect.ensuring(Effect.sync(stop.dispose)), Effect.uninterruptible)
  })

export const trainCommand = Command.make(
  "train",
  { kohya: trainFlags, json: switchFlag("json", "one JSON object per event on stdout, for scripts") },
  ({ kohya, json }) => runTrainingCommand("train", kohya, json),
).pipe(
  Command.withDescription(
    "炼丹: train a LoRA with kohya sd-scripts' options (--config_file kohya.toml, or the same flags: --pretrained_model_name_or_path, --train_data_dir, --output_dir, --network_dim, …)",
  ),
)
