import { readdir, stat } from "node:fs/promises"
import { join } from "node:path"
import { resolveTrainConfig } from "@danlu/core"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { exists } from "../fileExists.js"
import { runStep } from "../steps.js"
import { readTrainConfigFile } from "../train/configFile.js"
import { UserError } from "../userError.js"

const runStepNames = ["model", "dataset", "tag", "check", "train", "xyz"] as const
type RunStep = (typeof runStepNames)[number]

/** The newest resumable state of a run (`<name>-stepNNNNNNNN-state`, `<name>-NNNNNN-state`, `<name>-state`). */
const latestState = (outputDir: string, outputName: string) =>
  Effect.promise(async () => {
    const entries = await readdir(outputDir).catch(() => [] as Array<string>)
    const states = entries.filter((name) => name.startsWith(`${outputName}-`) && name.endsWith("-state"))
    const dated = await Promise.all(
      states.map(async (name) => ({
        name,
        time: (await stat(join(outputDir, name, "state.safetensors")).catch(() => undefined))?.mtimeMs,
      })),
    )
    const newest = dated.filter((s) => s.time !== undefined).sort((a, b) => b.time! - a.time!)[0]
    return newest === undefined ? undefined : join(outputDir, newest.name)
  })

/** The trigger word: the first concept folder's name (`10_ayu` → `ayu`). */
const firstConcept = (trainDataDir: string) =>
  Effect.promise(async () => {
    const entries = await readdir(trainDataDir).catch(() => [] as Array<string>)
    const concept = entries.sort().find((name) => /^\d+[_-]/.test(name))
    return concept?.replace(/^\d+[_-]/, "")
  })

/**
 * `danlu run config.toml`: the guide's seven steps from one kohya config — the base model inspected, the
 * dataset checked, captions written by a tagger when asked, the config checked, the LoRA trained and the
 * epochs × weights grid drawn and diagnosed. Each step can be skipped; running again continues: training
 * resumes from the newest state, a finished training is not repeated, and the grid skips cells already made.
 */
export const run = Command.make(
  "run",
  {
    config: Argument.String("config").pipe(Argument.withDescription("a kohya / 秋叶 training TOML")),
    skip: Flag.String("skip").pipe(
      Flag.optional,
      Flag.withDescription(`steps to leave out, comma-separated: ${runStepNames.join(", ")}`),
    ),
    taggerModel: Flag.String("tagger-model").pipe(
      Flag.optional,
      Flag.withDescription("a WD1.4 tagger's model.onnx: tag images that have no caption yet"),
    ),
    taggerTags: Flag.String("tagger-tags").pipe(
      Flag.optional,
      Flag.withDescription("the tagger's selected_tags.csv"),
    ),
    prompt: Flag.String("prompt").pipe(
      Flag.optional,
      Flag.withDescription("the grid's prompt (default: the trigger word, i.e. the first concept's name)"),
    ),
    weights: Flag.String("weights").pipe(
      Flag.optional,
      Flag.withDescription("the grid's LoRA weights, e.g. 0,0.3,0.6,0.8"),
    ),
  },
  (options) =>
    Effect.gen(function* () {
      const skipped = new Set(
        Option.getOrElse(options.skip, () => "")
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== ""),
      )
      for (const name of skipped)
        if (!runStepNames.includes(name as RunStep))
          return yield* new UserError({ message: `--skip ${name}: the steps are ${runStepNames.join(", ")}` })
      const { options: values } = yield* readTrainConfigFile(options.config)
      const config = resolveTrainConfig(values)
      const step = (name: RunStep, title: string, args: ReadonlyArray<string>) =>
        Effect.gen(function* () {
          if (skipped.has(name)) {
            yield* Console.log(`\n━━ ${title} (skipped)`)
            return
          }
          yield* Console.log(`\n━━ ${title}\n$ danlu ${args.join(" ")}\n`)
          yield* runStep(args)
        })
      if (config.pretrainedModelNameOrPath)
        yield* step("model", "2 底模 base model", ["model", "inspect", config.pretrainedModelNameOrPath])
      if (config.trainDataDir) {
        yield* step("dataset", "3 选图 dataset", [
          "dataset",
          "check",
          config.trainDataDir,
          "--caption-extension",
          config.captionExtension,
        ])
        if (Option.isSome(options.taggerModel) && Option.isSome(options.taggerTags)) {
          const trigger = yield* firstConcept(config.trainDataDir)
          yield* step("tag", "4 打标 tagging (images without captions)", [
            "tag",
            config.trainDataDir,
            "--model",
            options.taggerModel.value,
            "--tags",
            options.taggerTags.value,
            "--caption-extension",
            config.captionExtension,
            ...(trigger ? ["--trigger", trigger] : []),
          ])
        }
      }
      yield* step("check", "5 调参 parameters", ["config", "check", options.config])
      const outputDir = config.outputDir
      const outputName = config.outputName ?? "last"
      if (outputDir === undefined) return yield* new UserError({ message: "the config sets no output_dir" })
      const finished = yield* exists(join(outputDir, `${outputName}.safetensors`))
      if (finished && !skipped.has("train")) {
        yield* Console.log(
          `\n━━ 6 炼丹 training: ${join(outputDir, `${outputName}.safetensors`)} exists, so this run trained already`,
        )
      } else {
        const state = yield* latestState(outputDir, outputName)
        yield* step("train", state ? `6 炼丹 training (resuming from ${state})` : "6 炼丹 training", [
          "train",
          "--config_file",
          options.config,
          ...(state ? ["--resume", state] : []),
        ])
      }
      const trigger = config.trainDataDir ? yield* firstConcept(config.trainDataDir) : undefined
      const prompt = Option.getOrElse(options.prompt, () => trigger ?? outputName)
      // The grid is drawn at the training resolution, where the LoRA learned.
      yield* step("xyz", "7 验单 validation: epochs × weights, and the diagnosis", [
        "xyz",
        ...(config.pretrainedModelNameOrPath ? ["--model", config.pretrainedModelNameOrPath] : []),
        "--lora-dir",
        outputDir,
        "--name",
        outputName,
        "--prompt",
        prompt,
        "--width",
        String(config.resolution.width),
        "--height",
        String(config.resolution.height),
        ...(Option.isSome(options.weights) ? ["--weights", options.weights.value] : []),
        ...(config.trainDataDir ? ["--train-data-dir", config.trainDataDir] : []),
      ])
    }),
).pipe(Command.withDescription("the seven steps from one training config; run it again to continue"))
