import { copyFile, mkdir, rm, writeFile } from "node:fs/promises"
import { join, resolve } from "node:path"
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { bundledBaseModelPath } from "../demo/bundledBaseModel.js"
import { demoImages, renderDemoImage } from "../demo/demoImages.js"
import { demoTagger } from "../demo/demoTagger.js"
import { exists } from "../fileExists.js"
import { runStep } from "../steps.js"
import { UserError } from "../userError.js"
import { switchFlag } from "./switchFlag.js"

const marker = ".danlu-demo"
const trigger = "danlu-girl"

/** The LoRA run: kohya's keys, sized so the whole demo trains in minutes on two CPU cores. */
const trainingConfig = (paths: {
  readonly base: string
  readonly data: string
  readonly output: string
  readonly logs: string
  readonly epochs: number
}) =>
  [
    "# danlu demo: a rank-8 LoRA (LoCon) of the danlu-girl character on the bundled 32×32 base model",
    `pretrained_model_name_or_path = ${JSON.stringify(paths.base)}`,
    `train_data_dir = ${JSON.stringify(paths.data)}`,
    `output_dir = ${JSON.stringify(paths.output)}`,
    `output_name = "${trigger}"`,
    `logging_dir = ${JSON.stringify(paths.logs)}`,
    'network_module = "networks.lora"',
    "network_dim = 8",
    "network_alpha = 4",
    "# LoCon: the res blocks' convolutions too, where most of this tiny UNet draws",
    'network_args = ["conv_dim=8", "conv_alpha=4"]',
    "# the base model is tiny: a LoRA on it takes a larger learning rate than SD1.5's 1e-4",
    "learning_rate = 3e-3",
    "# warmed up over the first half, so that the grid shows the character appear along the epochs",
    "# (at a constant 1e-2 it was already there at epoch 2)",
    'lr_scheduler = "constant_with_warmup"',
    "lr_warmup_steps = 0.5",
    "min_snr_gamma = 5",
    "train_batch_size = 4",
    "resolution = 32",
    `max_train_epochs = ${paths.epochs}`,
    "save_every_n_epochs = 2",
    'caption_extension = ".txt"',
    "seed = 42",
    'backend = "onnx"',
    "",
  ].join("\n")

const reasons: Readonly<Record<string, string>> = {
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "a parent of this path is not a folder",
  ENOSPC: "the disk is full",
  EROFS: "the file system is read-only",
}

/** A file-system step of the demo; a failure is the user's to fix (another --out), not a crash. */
const writing = (path: string, run: () => Promise<unknown>) =>
  Effect.tryPromise({
    try: run,
    catch: (cause) => {
      const code = (cause as NodeJS.ErrnoException).code ?? ""
      const reason = reasons[code] ?? (cause as Error).message
      return new UserError({ message: `cannot write ${path}: ${reason}; choose another --out` })
    },
  })

/** Makes the demo folder, refusing to touch a non-empty folder that the demo did not make. */
const prepareFolder = (out: string, force: boolean) =>
  Effect.gen(function* () {
    if (yield* exists(out)) {
      if (!(yield* exists(join(out, marker)))) {
        return yield* new UserError({
          message: `${out} exists and was not made by danlu demo; choose another --out`,
        })
      }
      if (!force)
        return yield* new UserError({ message: `${out} holds an earlier demo; add --force to replace it` })
      yield* writing(out, () => rm(out, { recursive: true }))
    }
    yield* writing(out, () => mkdir(out, { recursive: true }))
    yield* writing(out, () =>
      writeFile(join(out, marker), "made by danlu demo; --force may delete this folder\n"),
    )
  })

const step = (title: string, args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    yield* Console.log(`\n━━ ${title}\n$ danlu ${args.join(" ")}\n`)
    yield* runStep(args)
  })

export const demo = Command.make(
  "demo",
  {
    out: Flag.String("out").pipe(
      Flag.withDefault("danlu-demo"),
      Flag.withDescription("folder the demo writes into"),
    ),
    force: switchFlag("force", "replace an earlier demo folder"),
    // The test's shortcut: fewer epochs than the README's run.
    epochs: Flag.Int("epochs").pipe(Flag.withDefault(16), Flag.withHidden),
  },
  ({ out, force, epochs }) =>
    Effect.gen(function* () {
      const root = resolve(out)
      yield* prepareFolder(root, force)
      const training = join(root, "training")
      const concept = join(training, `10_${trigger}`)
      yield* writing(concept, () => mkdir(concept, { recursive: true }))
      yield* Effect.forEach(demoImages, (image) =>
        writing(concept, async () => writeFile(join(concept, image.name), await renderDemoImage(image))),
      )
      const tagger = demoTagger()
      const taggerDir = join(root, "tagger")
      yield* writing(taggerDir, async () => {
        await mkdir(taggerDir, { recursive: true })
        await writeFile(join(taggerDir, "model.onnx"), tagger.model)
        await writeFile(join(taggerDir, "selected_tags.csv"), tagger.csv)
      })
      yield* Console.log(`danlu demo: ${demoImages.length} bundled images in ${concept}`)

      const bundled = bundledBaseModelPath()
      if (!(yield* exists(bundled)))
        return yield* new UserError({
          message: `the bundled base model ${bundled} is missing; npm run pretrain-demo-model makes it`,
        })
      const base = join(root, "models", "danlu-demo-base.safetensors")
      yield* writing(root, () => mkdir(join(root, "models"), { recursive: true }))
      yield* writing(base, () => copyFile(bundled, base))

      const prepared = join(root, "prepared")
      yield* step("1 炼丹炉 backend", ["backends"])
      yield* step("2 底模 base model (SD1.5 layout, pretrained by danlu on procedural shapes)", [
        "model",
        "inspect",
        base,
      ])
      yield* step("3 选图 dataset: check", ["dataset", "check", training])
      yield* step("3 选图 dataset: prepare", [
        "dataset",
        "prepare",
        training,
        "--out",
        prepared,
        "--size",
        "512x512",
      ])
      const model = join(taggerDir, "model.onnx")
      const csv = join(taggerDir, "selected_tags.csv")
      yield* step("4 打标 tagging", [
        "tag",
        join(prepared, `10_${trigger}`),
        "--model",
        model,
        "--tags",
        csv,
        "--trigger",
        trigger,
      ])
      yield* step("4 打标 tag frequencies", ["tags", "list", prepared])
      yield* step("4 打标 prune what the trigger word should learn", [
        "tags",
        "prune",
        prepared,
        "--trigger",
        trigger,
        "--remove",
        "pink hair",
      ])
      const output = join(root, "output")
      const config = join(root, "config.toml")
      yield* writing(config, () =>
        writeFile(
          config,
          trainingConfig({ base, data: prepared, output, logs: join(output, "logs"), epochs }),
        ),
      )
      yield* step("5 调参 parameters", ["config", "check", config])
      yield* step("6 炼丹 training", ["train", "--config_file", config])
      yield* step("7 验单 validation: the epochs × weights grid and its diagnosis", [
        "xyz",
        "--model",
        base,
        "--lora-dir",
        output,
        "--name",
        trigger,
        "--prompt",
        `${trigger}, 1girl, solo`,
        "--weights",
        "0.5,1",
        "--width",
        "32",
        "--height",
        "32",
        "--cfg",
        "5",
        "--seed",
        "1",
        "--train-data-dir",
        prepared,
      ])
      yield* Console.log(`\ndanlu demo: done — everything is in ${root}`)
    }),
).pipe(
  Command.withDescription(
    "Walk the seven steps on bundled data: backends, base model, dataset, tagging, parameters, a LoRA trained, its grid (writes only into --out).",
  ),
)
