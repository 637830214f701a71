import { readFile } from "node:fs/promises"
import { basename, dirname, extname, join } from "node:path"
import {
  Backend,
  type BackendError,
  Sample,
  type SampleSchedule,
  type SavePoint,
  type TrainConfig,
} from "@danlu/core"
import { Effect, type Scope } from "effect"
import { DatasetError, describeCause } from "../errors.js"
import { renderImages, writeImageFile } from "../generate/generateImages.js"
import { type Generator, openGenerator } from "../generate/generator.js"
import { compactTimestamp } from "./trainLogs.js"

/** kohya's sample file name: `<output_name>_<e000002 | 000500>_<NN>_<YYYYmmddHHMMSS>_<seed>.png`. */
export const sampleFileName = (
  outputName: string,
  point: Pick<SavePoint, "kind" | "epoch" | "step">,
  index: number,
  seed: number,
  date: Date,
) => {
  const position =
    point.kind === "epoch" || point.kind === "final"
      ? `e${String(point.epoch).padStart(6, "0")}`
      : String(point.step).padStart(6, "0")
  return `${outputName}_${position}_${String(index).padStart(2, "0")}_${compactTimestamp(date)}_${seed}.png`
}

const fail = (message: string, path?: string) =>
  new DatasetError({ message, ...(path === undefined ? {} : { path }) })

/**
 * Sample images during training from kohya's `--sample_prompts` file, drawn by the same code as
 * `danlu generate`: with a LoRA each prompt gets `<lora:<file>:1>` for the network file of that moment; in
 * full fine-tuning (`saves` "checkpoint") the images are drawn from the checkpoint of that moment. Either
 * way an image made during training is the one `danlu generate` makes with the settings in its
 * `parameters`. Images go to `<output_dir>/sample/` with kohya's names. Points without a saved file use
 * `writeCurrent`'s file.
 */
export const trainingSamples = (
  config: TrainConfig,
  outputDir: string,
  outputName: string,
  writeCurrent: (point: SavePoint) => Effect.Effect<string, unknown>,
  onImage: (path: string) => void,
  saves: "lora" | "checkpoint" = "lora",
): Effect.Effect<SampleSchedule<unknown> | undefined, unknown, Backend | Scope.Scope> =>
  Effect.gen(function* () {
    const file = config.samplePrompts
    if (
      file === undefined ||
      (!config.sampleEveryNEpochs && !config.sampleEveryNSteps && !config.sampleAtFirst)
    )
      return undefined
    if (extname(file).toLowerCase() !== ".txt")
      return yield* fail(
        `sample_prompts ${file}: danlu reads kohya's .txt prompt files (one prompt per line)`,
        file,
      )
    const text = yield* Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: (cause) => fail(`cannot read sample_prompts ${file}: ${describeCause(cause)}`, file),
    })
    const prompts = yield* Effect.try({ try: () => Sample.parseSamplePrompts(text), catch: (cause) => cause })
    if (prompts.length === 0) return yield* fail(`sample_prompts ${file} has no prompt`, file)
    for (const prompt of prompts) {
      const name = prompt.sampler ?? config.sampleSampler
      if (Sample.kohyaSampler(name) === undefined)
        return yield* fail(
          `sample sampler ${name} is not one danlu runs; use one of ${Sample.kohyaSamplerNames.join(", ")}`,
        )
    }
    // A LoRA is drawn on the base model, opened once; a checkpoint is opened at each point.
    const base = saves === "lora" ? yield* openGenerator(config.pretrainedModelNameOrPath!) : undefined
    const backend = yield* Backend
    const sampleDir = join(outputDir, "sample")
    const draw = (generator: Generator, point: SavePoint, lora: string | undefined) =>
      Effect.gen(function* () {
        const date = new Date()
        for (const [index, prompt] of prompts.entries()) {
          const choice = Sample.kohyaSampler(prompt.sampler ?? config.sampleSampler)!
          const seed = prompt.seed ?? Math.floor(Math.random() * 2 ** 32)
          const [image] = yield* renderImages(generator, {
            prompt:
              lora === undefined
                ? prompt.prompt
                : `${prompt.prompt} <lora:${basename(lora, ".safetensors")}:1>`,
            negativePrompt: prompt.negativePrompt,
            sampler: choice.sampler,
            scheduler: choice.scheduler,
            steps: prompt.steps,
            cfgScale: prompt.cfgScale,
            seed,
            width: prompt.width,
            height: prompt.height,
            ...(config.clipSkip === undefined ? {} : { clipSkip: config.clipSkip }),
            ...(lora === undefined ? {} : { loraDir: dirname(lora) }),
          })
          const path = join(sampleDir, sampleFileName(outputName, point, index, seed, date))
          yield* writeImageFile(path, image!.png)
          onImage(path)
        }
      })
    const run = (
      point: SavePoint,
      savedPath: string | undefined,
    ): Effect.Effect<void, BackendError | unknown> =>
      Effect.gen(function* () {
        const path = savedPath ?? (yield* writeCurrent(point))
        if (base) return yield* draw(base, point, path)
        yield* Effect.scoped(
          Effect.flatMap(openGenerator(path), (generator) => draw(generator, point, undefined)),
        ).pipe(Effect.provideService(Backend, backend))
      })
    return {
      everyNEpochs: config.sampleEveryNEpochs,
      everyNSteps: config.sampleEveryNSteps,
      atFirst: config.sampleAtFirst,
      run,
    }
  })
