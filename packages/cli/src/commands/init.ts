import { copyFile, mkdir, rename, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { exists } from "../fileExists.js"
import { type LrScaling, type PresetName, presetNames, presetToml } from "../train/presets.js"
import { UserError } from "../userError.js"
import { switchFlag } from "./switchFlag.js"

const fileStep = (path: string, run: () => Promise<unknown>) =>
  Effect.tryPromise({
    try: run,
    catch: (cause) =>
      new UserError({
        message: `cannot write ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
      }),
  })

/**
 * `danlu init <dir> --preset anime --trigger ayu`: a project folder laid out as the guide lays it out —
 * `config.toml` with the preset's values and comments, `training/10_<trigger>/` for the images,
 * `output/` and `logs/` named in the config.
 */
export const init = Command.make(
  "init",
  {
    dir: Argument.String("dir").pipe(Argument.withDescription("the project folder to create")),
    preset: Flag.Literals("preset", presetNames as ReadonlyArray<PresetName>).pipe(
      Flag.withDefault("character" as PresetName),
      Flag.withDescription("anime | style | character | realistic | product: the guide's values for each"),
    ),
    trigger: Flag.String("trigger").pipe(
      Flag.withDescription("the trigger word, e.g. he-tian-yi-lang: the LoRA's name and first caption tag"),
    ),
    baseModel: Flag.String("base-model").pipe(Flag.optional, Flag.withDescription("the base model's file")),
    batch: Flag.Int("batch").pipe(
      Flag.withDefault(2),
      Flag.withDescription("train_batch_size (the guide: 2)"),
    ),
    lrScaling: Flag.Literals("lr-scaling", ["linear", "sqrt", "none"] as ReadonlyArray<LrScaling>).pipe(
      Flag.withDefault("linear" as LrScaling),
      Flag.withDescription("how the learning rate follows the batch size from 2e-4 at batch 2"),
    ),
    repeats: Flag.Int("repeats").pipe(
      Flag.withDefault(10),
      Flag.withDescription("repeats of the concept folder"),
    ),
    force: switchFlag("force", "replace an existing config.toml (the old one is kept as config.toml.bak)"),
  },
  (options) =>
    Effect.gen(function* () {
      if (!/^[^\\/:*?"<>|]+$/.test(options.trigger))
        return yield* new UserError({ message: `--trigger ${options.trigger} cannot be a folder name` })
      if (options.batch < 1) return yield* new UserError({ message: "--batch must be at least 1" })
      const configPath = join(options.dir, "config.toml")
      const concept = join(options.dir, "training", `${options.repeats}_${options.trigger}`)
      const toml = presetToml(options.preset, {
        triggerWord: options.trigger,
        ...(Option.isSome(options.baseModel) ? { baseModel: options.baseModel.value } : {}),
        trainDataDir: join(options.dir, "training"),
        outputDir: join(options.dir, "output"),
        loggingDir: join(options.dir, "logs"),
        batchSize: options.batch,
        lrScaling: options.lrScaling,
      })
      if (yield* exists(configPath)) {
        if (!options.force)
          return yield* new UserError({
            message: `${configPath} exists; add --force to replace it (a backup is kept)`,
          })
        yield* fileStep(`${configPath}.bak`, () => copyFile(configPath, `${configPath}.bak`))
      }
      yield* fileStep(concept, () => mkdir(concept, { recursive: true }))
      const temp = `${configPath}.tmp`
      yield* fileStep(configPath, async () => {
        await writeFile(temp, toml)
        await rename(temp, configPath)
      })
      yield* Console.log(`wrote ${configPath} (preset ${options.preset})`)
      yield* Console.log(`put 16–40 images (and their .txt captions) in ${concept}/, then:`)
      yield* Console.log(
        `  danlu tag ${join(options.dir, "training")} --model <tagger>/model.onnx --tags <tagger>/selected_tags.csv --trigger ${options.trigger}`,
      )
      yield* Console.log(`  danlu config check ${configPath}`)
      yield* Console.log(`  danlu train --config_file ${configPath}`)
    }),
).pipe(
  Command.withDescription(
    "调参: start a LoRA project from a preset (anime, style, character, realistic, product)",
  ),
)
