import { access } from "node:fs/promises"
import { basename, extname, join } from "node:path"
import { type Backend, Progress, progressCounter, Sample, withProgress } from "@danlu/core"
import { Effect, type Layer, type Scope } from "effect"
import { DatasetError, describeCause } from "../errors.js"
import { writeFileAtomic } from "../io/atomicWrite.js"
import { formatInfotext, type GenerationParameters, type LoraHash } from "../png/infotext.js"
import {
  type AppliedLora,
  type DrawnImage,
  type GenerateError,
  type Generator,
  openGenerator,
} from "./generator.js"
import { encodePng, imageFileName, loraShortHash, modelShortHash, nextImageNumber } from "./imageFiles.js"

/** What to draw, with A1111's names and defaults. */
export interface GenerateSettings {
  /** A1111 prompt syntax; `<lora:name:w>` tags name files `name.safetensors` in `loraDir`. */
  readonly prompt: string
  readonly negativePrompt?: string
  /** A1111 sampler name, optionally with its schedule ("DPM++ 2M Karras"); default "DPM++ 2M". */
  readonly sampler?: string
  /** "automatic" (default), "uniform", "karras", "exponential". */
  readonly scheduler?: string
  readonly steps?: number
  readonly cfgScale?: number
  /** The first picture's seed; the batch uses seed, seed + 1, … (default, or -1: a random seed). */
  readonly seed?: number
  /** "philox" (danlu's, the same on every backend) or "nv" (A1111's NV source). */
  readonly rng?: Sample.RngName
  readonly width?: number
  readonly height?: number
  /** Pictures drawn together (A1111's batch size). */
  readonly batch?: number
  /** A1111's clip skip (1 = last layer; SD2 is fixed at 2). */
  readonly clipSkip?: number
}

export interface GenerateOptions extends GenerateSettings {
  /** The base checkpoint (safetensors or .ckpt). */
  readonly model: string
  readonly loraDir?: string
  readonly outDir: string
  /** Written as the infotext's `Version`, e.g. "danlu 0.1.0". */
  readonly version?: string
}

export interface GeneratedImage extends DrawnImage {
  readonly file: string
  readonly parameters: string
}

/** A resolved `<lora:…>` tag. */
export interface ResolvedLora extends AppliedLora {
  readonly name: string
}

/** Finds each prompt's `<lora:name:…>` as `name.safetensors` in `loraDir`. */
export const resolveLoras = (
  prompt: string,
  loraDir: string | undefined,
): Effect.Effect<{ readonly prompt: string; readonly loras: ReadonlyArray<ResolvedLora> }, GenerateError> =>
  Effect.gen(function* () {
    const parsed = yield* Effect.try({
      try: () => Sample.extractLoras(prompt),
      // extractLoras throws nothing else.
      catch: (cause) => cause as Sample.LoraTagError,
    })
    const loras = yield* Effect.forEach(parsed.loras, (lora) =>
      Effect.gen(function* () {
        if (loraDir === undefined) {
          return yield* new DatasetError({
            message: `the prompt names <lora:${lora.name}> but no LoRA folder was given`,
          })
        }
        const path = join(loraDir, `${lora.name}.safetensors`)
        yield* Effect.tryPromise({
          try: () => access(path),
          catch: () =>
            new DatasetError({
              message: `no LoRA "${lora.name}" in ${loraDir} (looked for ${basename(path)})`,
              path,
            }),
        })
        return {
          name: lora.name,
          path,
          teMultiplier: lora.teMultiplier,
          unetMultiplier: lora.unetMultiplier,
        }
      }),
    )
    return { prompt: parsed.prompt, loras }
  })

const positive = (name: string, value: number, integer: boolean) =>
  Number.isFinite(value) && value > 0 && (!integer || Number.isInteger(value))
    ? Effect.succeed(value)
    : Effect.fail(
        new DatasetError({
          message: `${name} must be a positive ${integer ? "integer" : "number"}, got ${value}`,
        }),
      )

/** Settings with A1111's defaults filled in and checked. */
export interface ResolvedSettings {
  readonly prompt: string
  readonly negativePrompt: string
  readonly sampler: Sample.SamplerChoice
  readonly steps: number
  readonly cfgScale: number
  readonly seeds: ReadonlyArray<number>
  readonly rng: Sample.RngName
  readonly width: number
  readonly height: number
  readonly clipSkip?: number
}

export const resolveSettings = (settings: GenerateSettings): Effect.Effect<ResolvedSettings, GenerateError> =>
  Effect.gen(function* () {
    const sampler = yield* Effect.try({
      try: () => Sample.parseSamplerName(settings.sampler ?? "DPM++ 2M", settings.scheduler ?? "automatic"),
      // parseSamplerName throws nothing else.
      catch: (cause) => cause as Sample.SamplerNameError,
    })
    const steps = yield* positive("steps", settings.steps ?? 20, true)
    const width = yield* positive("width", settings.width ?? 512, true)
    const height = yield* positive("height", settings.height ?? 512, true)
    const batch = yield* positive("batch", settings.batch ?? 1, true)
    const cfgScale = settings.cfgScale ?? 7
    // A1111's -1 means a random seed, like leaving it out.
    const seed =
      settings.seed === undefined || settings.seed === -1
        ? Math.floor(Math.random() * 2 ** 32)
        : settings.seed
    const seeds = yield* Effect.try({
      try: () => Sample.batchSeeds(seed, batch),
      catch: (cause) => new DatasetError({ message: describeCause(cause) }),
    })
    const resolved: ResolvedSettings = {
      prompt: settings.prompt,
      negativePrompt: settings.negativePrompt ?? "",
      sampler,
      steps,
      cfgScale,
      seeds,
      rng: settings.rng ?? "philox",
      width,
      height,
      ...(settings.clipSkip === undefined ? {} : { clipSkip: settings.clipSkip }),
    }
    return resolved
  })

/** The infotext fields every picture of a batch shares; `seed` is set per picture. */
export const infotextFields = (
  settings: ResolvedSettings,
  model: { readonly name: string; readonly hash: string },
  loraHashes: ReadonlyArray<LoraHash>,
  version: string,
): Omit<GenerationParameters, "seed"> => ({
  prompt: settings.prompt,
  ...(settings.negativePrompt === "" ? {} : { negativePrompt: settings.negativePrompt }),
  steps: settings.steps,
  sampler: settings.sampler.sampler,
  ...(settings.sampler.scheduler === "automatic"
    ? {}
    : { scheduleType: Sample.schedulerLabels[settings.sampler.scheduler] }),
  cfgScale: settings.cfgScale,
  width: settings.width,
  height: settings.height,
  modelHash: model.hash,
  model: model.name,
  ...(settings.clipSkip === undefined ? {} : { clipSkip: settings.clipSkip }),
  ...(loraHashes.length === 0 ? {} : { loraHashes }),
  ...(settings.rng === "nv" ? { extra: [["RNG", "NV"]] as const } : {}),
  version,
})

const hashOf = (path: string, hash: (path: string) => Promise<string>) =>
  Effect.tryPromise({
    try: () => hash(path),
    catch: (cause) => new DatasetError({ message: `cannot read ${path}: ${describeCause(cause)}`, path }),
  })

/** A drawn picture as PNG bytes with its `parameters`, not yet written. */
export interface RenderedImage extends DrawnImage {
  readonly png: Uint8Array
  readonly parameters: string
}

/** Draws with an opened generator: the pictures as PNGs carrying A1111's infotext. */
export const renderImages = (
  generator: Generator,
  options: Omit<GenerateOptions, "model" | "outDir">,
): Effect.Effect<ReadonlyArray<RenderedImage>, GenerateError> =>
  Effect.gen(function* () {
    const settings = yield* resolveSettings(options)
    const { prompt, loras } = yield* resolveLoras(settings.prompt, options.loraDir)
    const modelHash = yield* hashOf(generator.modelPath, modelShortHash)
    const loraHashes = yield* Effect.forEach(loras, (lora) =>
      Effect.map(hashOf(lora.path, loraShortHash), (hash) => ({ name: lora.name, hash })),
    )
    const progress = yield* Progress
    // Each sampler step is one unit of the "generate" task, timed from the first one (which compiles).
    let counter: ReturnType<typeof progressCounter> | undefined
    const drawn = yield* generator.draw({
      ...settings,
      prompt,
      loras,
      onStep: (_step: number, steps: number) => {
        if (counter !== undefined) return counter.advance()
        counter = progressCounter(progress, { task: "generate", unit: "step", total: steps, done: 1 })
        counter.start()
      },
    })
    const fields = infotextFields(
      settings,
      { name: basename(generator.modelPath, extname(generator.modelPath)), hash: modelHash },
      loraHashes,
      options.version ?? "danlu",
    )
    return yield* Effect.forEach(drawn, (picture) =>
      Effect.promise(async () => {
        const parameters = formatInfotext({ ...fields, seed: picture.seed })
        return { ...picture, parameters, png: await encodePng(picture.image, parameters) }
      }),
    )
  })

/** Writes bytes atomically, failing with a one-line `DatasetError`. */
export const writeImageFile = (file: string, png: Uint8Array) =>
  Effect.tryPromise({
    try: () => writeFileAtomic(file, png),
    catch: (cause) =>
      new DatasetError({ message: `cannot write ${file}: ${describeCause(cause)}`, path: file }),
  })

/** Draws with an opened generator and writes the pictures into `outDir` as A1111 names them. */
export const generateWith = (
  generator: Generator,
  options: Omit<GenerateOptions, "model">,
): Effect.Effect<ReadonlyArray<GeneratedImage>, GenerateError> =>
  Effect.gen(function* () {
    const rendered = yield* renderImages(generator, options)
    const first = yield* Effect.promise(() => nextImageNumber(options.outDir))
    return yield* Effect.forEach(rendered, ({ png, ...picture }, i) => {
      const file = imageFileName(options.outDir, first + i, picture.seed)
      return Effect.as(writeImageFile(file, png), { ...picture, file })
    })
  })

/**
 * txt2img as A1111 does it, on the backend in context: `<lora:…>` tags resolved in `loraDir` (each with its
 * own multiplier, a program input), the sampler and schedule by A1111 name, batch seeds seed, seed + 1, …,
 * PNGs with A1111's `parameters` written atomically into `outDir` as `00000-<seed>.png`. The latents stay
 * on the device from the first sampler step to the last (`Sample.sampleOnDevice`).
 */
export const generateImages = (
  options: GenerateOptions,
): Effect.Effect<ReadonlyArray<GeneratedImage>, GenerateError, Backend | Scope.Scope> =>
  Effect.flatMap(openGenerator(options.model), (generator) => generateWith(generator, options))

/** A sampler step done, for the Promise form (the Effect form reports to the `Progress` service). */
export interface GenerateProgress {
  readonly step: number
  readonly steps: number
}

/** Promise form of {@link generateImages} on the given backend layer (e.g. backend-onnx's `layer`). */
export const generateImagesPromise = (
  options: GenerateOptions & { readonly onProgress?: (progress: GenerateProgress) => void },
  backend: Layer.Layer<Backend, unknown>,
): Promise<ReadonlyArray<GeneratedImage>> =>
  Effect.runPromise(
    generateImages(options).pipe(
      Effect.scoped,
      withProgress((event) => {
        if (event.type === "progress" && event.task === "generate")
          options.onProgress?.({ step: event.done, steps: event.total })
      }),
      Effect.provide(backend),
    ) as Effect.Effect<ReadonlyArray<GeneratedImage>, unknown>,
  )
