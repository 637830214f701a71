import { mkdir, rm, stat, writeFile } from "node:fs/promises"
import { join, resolve } from "node:path"
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { demoImages, renderDemoImage } from "../demo/demoImages.js"
import { writeDemoCheckpoint, writeDemoLora } from "../demo/demoModel.js"
import { demoTagger } from "../demo/demoTagger.js"
import { stepCommands } from "../steps.js"
import { UserError } from "../userError.js"
import { version } from "../version.js"
import { switchFlag } from "./switchFlag.js"

const marker = ".danlu-demo"
const trigger = "danlu-girl"

const steps = Command.runWith(Command.make("danlu").pipe(Command.withSubcommands(stepCommands)), { version })

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

const exists = (path: string) =>
  Effect.promise(() =>
    stat(path).then(
      () => true,
      () => false,
    ),
  )

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
    yield* steps(args)
  })

export const demo = Command.make(
  "demo",
  {
    out: Flag.String("out").pipe(
      Flag.withDefault("danlu-demo"),
      Flag.withDescription("folder the demo writes into"),
    ),
    force: switchFlag("force", "replace an earlier demo folder"),
  },
  ({ out, force }) =>
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

      const base = join(root, "models", "toy-sd15.safetensors")
      const lora = join(root, "models", `${trigger}-untrained.safetensors`)
      yield* writing(root, () => mkdir(join(root, "models"), { recursive: true }))
      yield* writeDemoCheckpoint(base)
      yield* writeDemoLora(lora)

      const prepared = join(root, "prepared")
      yield* step("1 炼丹炉 backend", ["backends"])
      yield* step("2 底模 base model (SD1.5 layout at toy width)", ["model", "inspect", base])
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
      yield* step("6 the LoRA file danlu writes (kohya format, freshly initialised)", [
        "model",
        "inspect",
        lora,
      ])
      yield* Console.log(`\ndanlu demo: done — everything is in ${root}`)
    }),
).pipe(
  Command.withDescription(
    "Walk the LoRA pipeline on bundled data: backends, base model, dataset, tagging, LoRA file (writes only into --out).",
  ),
)
