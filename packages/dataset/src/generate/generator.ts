import { stat } from "node:fs/promises"
import { basename } from "node:path"
import {
  type ArchitectureError,
  architectureOf,
  Backend,
  type BackendError,
  type BaseWeightMismatch,
  CLIP_CONTEXT_LENGTH,
  CLIP_END_OF_TEXT,
  chunkPrompt,
  clipTokenizer,
  type DeviceBuffer,
  detectCheckpoint,
  type Graph,
  type HostTensor,
  hostTensor,
  importLora,
  inspectLora,
  type LoraFormatError,
  type Program,
  PromptSyntaxError,
  readBaseWeight,
  Sample,
  type SdArchitecture,
  type TensorFile,
} from "@danlu/core"
import { ensureLoraMatchesBase, type ModelFileError, type ModelMismatch } from "@danlu/core/io"
import { openModelFile } from "@danlu/core/node"
import { Effect, Scope } from "effect"
import { DatasetError, describeCause } from "../errors.js"
import type { RawImage } from "../image/decode.js"
import {
  type LoraSlotWeights,
  loraSlotAdapters,
  loraSlotWeights,
  multiplierName,
  slotPrefix,
} from "./loraSlots.js"
import {
  decoderGraph,
  decoderNames,
  loraTargetModules,
  samplerGraph,
  sdxlTextNames,
  textGraph,
  vaeFactor,
} from "./sdGraphs.js"

/** A LoRA applied to one picture batch, with its multipliers (A1111's `<lora:name:te:unet>`). */
export interface AppliedLora {
  readonly path: string
  readonly teMultiplier: number
  readonly unetMultiplier: number
}

/** One batch of pictures to draw; prompts are plain text here (`<lora:…>` tags already cut out). */
export interface DrawRequest {
  readonly prompt: string
  readonly negativePrompt: string
  readonly loras: ReadonlyArray<AppliedLora>
  readonly sampler: Sample.SamplerChoice
  readonly steps: number
  readonly cfgScale: number
  readonly seeds: ReadonlyArray<number>
  readonly rng: Sample.RngName
  readonly width: number
  readonly height: number
  readonly clipSkip?: number
  readonly onStep?: (step: number, steps: number) => void
}

export interface DrawnImage {
  readonly seed: number
  readonly image: RawImage
  /** The latents or the decoded pixels held NaN or infinity (a broken picture). */
  readonly nonFinite: boolean
}

/** Everything drawing can fail with, each a tagged error with a one-line message. */
export type GenerateError =
  | DatasetError
  | BackendError
  | ModelFileError
  | ArchitectureError
  | BaseWeightMismatch
  | ModelMismatch
  | LoraFormatError
  | PromptSyntaxError
  | Sample.LoraTagError
  | Sample.SamplerNameError

/** A base model opened for drawing: compiles each program once per shape and keeps weights on the device. */
export interface Generator {
  readonly modelPath: string
  readonly architecture: SdArchitecture
  /** Programs compiled so far (text encoder, denoiser and decoder shapes). */
  readonly compiles: () => number
  readonly draw: (request: DrawRequest) => Effect.Effect<ReadonlyArray<DrawnImage>, GenerateError>
  /** Seconds one denoiser evaluation takes for this request's shape, after its programs are compiled. */
  readonly timeStep: (request: DrawRequest) => Effect.Effect<number, GenerateError>
}

const scalar = (value: number): HostTensor => hostTensor("f32", [], Float32Array.of(value))

const toRgb = (pixels: Float32Array, offset: number, width: number, height: number) => {
  const data = Buffer.alloc(width * height * 3)
  const plane = width * height
  let nonFinite = false
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      const v = pixels[offset + c * plane + i]!
      if (!Number.isFinite(v)) nonFinite = true
      // A1111: 255 · clamp((x + 1) / 2, 0, 1), truncated to uint8.
      data[i * 3 + c] = Math.trunc(255 * Math.min(1, Math.max(0, (v + 1) / 2))) || 0
    }
  }
  const image: RawImage = { width, height, channels: 3, data }
  return { image, nonFinite }
}

/**
 * Opens a base model on the backend in context. Everything compiled or uploaded lives until the scope
 * closes; LoRA files are checked against the model's family (both named when they differ) and matched
 * to its layers, then fed as state buffers, so switching epoch files or weights never recompiles.
 */
export const openGenerator = (
  modelPath: string,
): Effect.Effect<Generator, GenerateError, Backend | Scope.Scope> =>
  Effect.gen(function* () {
    const backend = yield* Backend
    const scope = yield* Effect.scope
    const file = yield* openModelFile(modelPath)
    const detected = yield* detectCheckpoint(file)
    const architecture = yield* architectureOf(file, detected)
    const short = architecture.text.find((config) => config.maxPositions !== CLIP_CONTEXT_LENGTH)
    if (short) {
      return yield* new DatasetError({
        message: `${basename(modelPath)}'s text encoder has ${short.maxPositions} positions; prompts need 77`,
        path: modelPath,
      })
    }
    const sdxl = architecture.family === "sdxl"
    // sd-scripts' UNet module names for the family: the state names imported weights are stored under.
    const naming = sdxl ? "ldm" : "diffusers"
    const pooledWidth = architecture.text[1]?.projectionDim ?? 0
    const tokenizer = yield* clipTokenizer
    const factor = vaeFactor(architecture)
    const inScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Scope.provide(scope)(effect)

    const baseBuffers = new Map<string, DeviceBuffer>()
    const loraBuffers = new Map<string, DeviceBuffer>()
    const loras = new Map<string, LoraSlotWeights>()
    const programs = new Map<string, Program>()
    let compiles = 0
    let targets: ReturnType<typeof loraTargetModules> | undefined

    // A file is known by its path, size and time: a LoRA rewritten in place (a training run's next save)
    // is read again.
    const loadLora = (path: string) =>
      Effect.gen(function* () {
        const version = yield* Effect.tryPromise({
          try: () => stat(path),
          catch: (cause) =>
            new DatasetError({ message: `cannot read ${path}: ${describeCause(cause)}`, path }),
        })
        const key = `${path}\u0000${version.size}\u0000${version.mtimeMs}`
        const seen = loras.get(key)
        if (seen) return { key, weights: seen }
        const loraFile: TensorFile = yield* inScope(openModelFile(path))
        const info = yield* inspectLora(loraFile)
        yield* ensureLoraMatchesBase(
          { name: basename(path), info },
          { name: basename(modelPath), info: { family: architecture.family } },
        )
        targets ??= loraTargetModules(architecture)
        const imported = yield* importLora(loraFile, targets, { unetNaming: naming })
        const weights = yield* Effect.try({
          try: () => loraSlotWeights(imported.modules),
          catch: (cause) => new DatasetError({ message: `${basename(path)}: ${describeCause(cause)}`, path }),
        })
        loras.set(key, weights)
        return { key, weights }
      })

    const program = (key: string, graph: () => Graph) =>
      Effect.gen(function* () {
        const seen = programs.get(key)
        if (seen) return seen
        const made = yield* inScope(backend.compile(graph()))
        compiles++
        programs.set(key, made)
        return made
      })

    const { latents, old, saved } = Sample.samplerProgramNames
    const samplerStates = new Set<string>([latents, old, saved])

    /**
     * States of a program run: base weights by name, slot i's LoRA weights from the file loaded as
     * `slots[i]`; the sampler's own states are `Sample.sampleOnDevice`'s.
     */
    const statesFor = (made: Program, slots: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const states: Record<string, DeviceBuffer> = {}
        for (const spec of made.states) {
          if (samplerStates.has(spec.name)) continue
          const slot = slots.findIndex((_, i) => spec.name.startsWith(slotPrefix(i)))
          if (slot >= 0) {
            const file = slots[slot]!
            const name = spec.name.slice(slotPrefix(slot).length)
            const key = `${file}\u0000${name}`
            let buffer = loraBuffers.get(key)
            if (!buffer) {
              buffer = yield* inScope(backend.upload(loras.get(file)!.states[name]!))
              loraBuffers.set(key, buffer)
            }
            states[spec.name] = buffer
          } else {
            let buffer = baseBuffers.get(spec.name)
            if (!buffer) {
              const value = yield* readBaseWeight(file, spec.name, spec.shape, "f32")
              buffer = yield* inScope(backend.upload(value))
              baseBuffers.set(spec.name, buffer)
            }
            states[spec.name] = buffer
          }
        }
        return states
      })

    const inputsFor = (made: Program, values: Record<string, HostTensor>) =>
      Object.fromEntries(made.inputs.map((spec) => [spec.name, values[spec.name]!]))

    const multipliers = (slots: ReadonlyArray<AppliedLora>) => {
      const values: Record<string, HostTensor> = {}
      slots.forEach((lora, i) => {
        values[multiplierName(i, "te")] = scalar(lora.teMultiplier)
        values[multiplierName(i, "unet")] = scalar(lora.unetMultiplier)
      })
      return values
    }

    const prepare = (request: DrawRequest) =>
      Effect.gen(function* () {
        if (request.width % factor !== 0 || request.height % factor !== 0) {
          return yield* new DatasetError({
            message: `width and height must be multiples of ${factor}, got ${request.width}x${request.height}`,
          })
        }
        const loaded = yield* Effect.forEach(request.loras, (lora) => loadLora(lora.path))
        const slots = loaded.map((lora) => lora.weights)
        const files = loaded.map((lora) => lora.key)
        const layout = slots.map((s) => s.layout).join("|")
        const adapters = () => loraSlotAdapters(slots, naming)
        const tokenize = (text: string, pad: "zero" | "end-of-text") =>
          Effect.try({
            try: () => chunkPrompt(tokenizer, text, { pad }),
            catch: (cause) =>
              cause instanceof PromptSyntaxError
                ? cause
                : new DatasetError({ message: `cannot read the prompt: ${describeCause(cause)}` }),
          })
        // SDXL's extra inputs: bigG's tokens (zero padding) and EOS positions, and the size conditioning
        // A1111 uses by default (original = target = the picture's size, crop 0, 0).
        const sdxlInputs = (text: string) =>
          Effect.gen(function* () {
            const tokens = yield* tokenize(text, "zero")
            const ids = Sample.promptConditioningInputs(tokens).prompt_tokens
            const eos = Int32Array.from(tokens.chunks, (chunk) => chunk.ids.indexOf(CLIP_END_OF_TEXT))
            const { height, width } = request
            return {
              [sdxlTextNames.tokensG]: ids,
              [sdxlTextNames.eosG]: hostTensor("i32", [eos.length], eos),
              [sdxlTextNames.sizes]: hostTensor(
                "f32",
                [1, 6],
                Float32Array.of(height, width, 0, 0, height, width),
              ),
            }
          })
        const encode = (text: string) =>
          Effect.gen(function* () {
            const first = architecture.text[0]!.layout === "openclip" ? "zero" : "end-of-text"
            const tokens = yield* tokenize(text, first)
            const chunks = tokens.chunks.length
            const made = yield* program(`text|${chunks}|${request.clipSkip ?? 0}|${layout}`, () =>
              textGraph(architecture, chunks, request.clipSkip, adapters()),
            )
            const values = {
              ...Sample.promptConditioningInputs(tokens),
              ...(sdxl ? yield* sdxlInputs(text) : {}),
              ...multipliers(request.loras),
            }
            const out = yield* made.run(inputsFor(made, values), yield* statesFor(made, files))
            return {
              context: out[Sample.promptConditioningNames.conditioning]!,
              vector: out[sdxlTextNames.vector],
            }
          })
        const cond = yield* encode(request.prompt)
        const uncond = yield* encode(request.negativePrompt)
        if (sdxl && request.negativePrompt === "") {
          // A1111 zeroes SDXL's text embeddings for an empty negative prompt (`force_zero_embeddings`): the
          // context and the pooled part of the vector; the size embeddings stay.
          ;(uncond.context.data as Float32Array).fill(0)
          ;(uncond.vector!.data as Float32Array).fill(0, 0, pooledWidth)
        }
        const batch = request.seeds.length
        const tile = (t: HostTensor) => {
          const [, ...rest] = t.shape
          const size = rest.reduce((a, b) => a * b, 1)
          const data = new Float32Array(batch * size)
          for (let b = 0; b < batch; b++) data.set(t.data as Float32Array, b * size)
          return hostTensor("f32", [batch, ...rest], data)
        }
        const height = request.height / factor
        const width = request.width / factor
        const shape = {
          batch,
          height,
          width,
          condLength: cond.context.shape[1]!,
          uncondLength: uncond.context.shape[1]!,
        }
        const denoiser = yield* program(`unet|${JSON.stringify(shape)}|${layout}`, () =>
          samplerGraph(architecture, shape, adapters()),
        )
        const names = Sample.denoiserNames
        const values: Record<string, HostTensor> = {
          [names.cond]: tile(cond.context),
          [names.uncond]: tile(uncond.context),
          ...(cond.vector && uncond.vector
            ? { [names.condVector]: tile(cond.vector), [names.uncondVector]: tile(uncond.vector) }
            : {}),
          [names.cfgScale]: Sample.cfgScaleInput(request.cfgScale),
          ...multipliers(request.loras),
        }
        const inputs = Object.fromEntries(
          denoiser.inputs.flatMap((spec) => (spec.name in values ? [[spec.name, values[spec.name]!]] : [])),
        )
        const states = yield* statesFor(denoiser, files)
        const channels = architecture.unet.inChannels
        // The latents stay on the device for the whole sampler run; only the final ones come back.
        // Suspended: each run draws from fresh generators.
        const sample = (settings: Sample.SamplerSettings, seeds: ReadonlyArray<number>) =>
          Effect.suspend(() =>
            Sample.sampleOnDevice({
              ...settings,
              program: denoiser,
              inputs,
              states,
              noise: new Sample.ImageNoise({ rng: request.rng, seeds, size: channels * height * width }),
              ...(request.onStep
                ? {
                    onStep: (step: Sample.SamplerProgress) =>
                      Effect.sync(() => request.onStep!(step.step + 1, step.steps)),
                  }
                : {}),
            }),
          ).pipe(Effect.provideService(Backend, backend))
        return { sample, batch, height, width }
      })

    const draw = (request: DrawRequest) =>
      Effect.gen(function* () {
        const { sample, batch, height, width } = yield* prepare(request)
        const channels = architecture.unet.inChannels
        const latents = yield* sample(
          { sampler: request.sampler.sampler, scheduler: request.sampler.scheduler, steps: request.steps },
          request.seeds,
        )
        // NaN and infinity stay once they appear (every update reads the latents or the model's output).
        const latentsNonFinite = latents.some((v) => !Number.isFinite(v))
        const decoderShape = { batch, height, width }
        const decoder = yield* program(`vae|${JSON.stringify(decoderShape)}`, () =>
          decoderGraph(architecture, decoderShape),
        )
        const out = yield* decoder.run(
          { [decoderNames.latents]: hostTensor("f32", [batch, channels, height, width], latents) },
          yield* statesFor(decoder, []),
        )
        const pixels = out[decoderNames.image]!.data as Float32Array
        const plane = 3 * request.width * request.height
        return request.seeds.map((seed, b) => {
          const { image, nonFinite } = toRgb(pixels, b * plane, request.width, request.height)
          return { seed, image, nonFinite: nonFinite || latentsNonFinite }
        })
      })

    const timeStep = (request: DrawRequest) =>
      Effect.gen(function* () {
        const { onStep: _, ...quiet } = request
        const { sample } = yield* prepare(quiet)
        const oneStep = sample({ sampler: "Euler", steps: 1 }, request.seeds)
        yield* oneStep
        const started = performance.now()
        yield* oneStep
        return (performance.now() - started) / 1000
      })

    return { modelPath, architecture, compiles: () => compiles, draw, timeStep }
  })
