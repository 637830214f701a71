import {
  architectureManifest,
  architectureMetadata,
  Backend,
  type ClipTokenizer,
  castHostFloat,
  clipTokenizer,
  conditioningValues,
  fromHostTensor,
  type HostTensor,
  hostTensor,
  readBaseWeight,
  type SdArchitecture,
  stepKey,
  syntheticCheckpoint,
  tensorsInMemory,
  tinyArchitecture,
  toHostTensor,
  vaePrefix,
  writeSafetensors,
} from "@danlu/core"
import { openModelFile, writeFileAtomic } from "@danlu/core/node"
import { Effect } from "effect"
import { cosineLr, runFullTraining } from "./fullTraining.js"
import { svgPixels } from "./sceneImages.js"
import { sceneAt, sceneCaption, sceneSvg, seededRandom } from "./scenes.js"
import { unetTrainingGraph } from "./unetStage.js"
import { vaeCodecGraphs, vaeTrainingGraph } from "./vaeStage.js"

export interface PretrainOptions {
  readonly seed: number
  /** Procedural scenes in the set. */
  readonly images: number
  /** Image side in pixels. */
  readonly size: number
  readonly batch: number
  /** The VAE's batch: its full-resolution convolutions cost more per image than the UNet's. */
  readonly vaeBatch: number
  /** The side of the random crops the VAE trains on: its convolutions cost a quarter at half the side. */
  readonly vaeCrop: number
  readonly vaeSteps: number
  readonly unetSteps: number
  readonly vaeLr: number
  readonly unetLr: number
  /** Share of captions left empty, so the model also learns the unconditional prediction CFG needs. */
  readonly captionDropout: number
  /**
   * kohya's `--multires_noise_iterations` for the UNet stage (0 = off). SD's schedule leaves half the variance of
   * a flat background readable in the noisy latent even at t = 999, so the UNet learns to take colours from the
   * noise instead of the caption; pyramid noise hides those low frequencies.
   */
  readonly multiresNoiseIterations: number
  /** kohya's `--multires_noise_discount`: the weight of each coarser level of the pyramid. */
  readonly multiresNoiseDiscount: number
  /** A checkpoint whose VAE is taken as it is instead of training one (to try UNet settings quickly). */
  readonly vaeFrom?: string
  readonly log: (line: string) => void
}

export const defaultPretrainOptions: Omit<PretrainOptions, "log"> = {
  seed: 2026,
  images: 2048,
  size: 32,
  batch: 8,
  vaeBatch: 16,
  vaeCrop: 16,
  vaeSteps: 650,
  unetSteps: 2000,
  vaeLr: 3e-3,
  unetLr: 3e-3,
  captionDropout: 0.1,
  multiresNoiseIterations: 0,
  multiresNoiseDiscount: 0.3,
}

/**
 * The bundled model's architecture: `tinyArchitecture("sd1")` (SD1.5's layout at toy width, CLIP's vocabulary
 * and 77 positions) with one res block per UNet level, so that pretraining and the demo's LoRA fit on two cores.
 */
export const demoArchitecture: SdArchitecture = (() => {
  const tiny = tinyArchitecture("sd1")
  return { ...tiny, unet: { ...tiny.unet, numResBlocks: 1 } }
})()

const initialLogvar = -8

export interface PretrainedModel {
  readonly architecture: SdArchitecture
  readonly weights: Record<string, HostTensor>
  /** Mean absolute error of the VAE's reconstructions of the first batch, in [0, 255] pixel units. */
  readonly reconstructionError: number
  readonly originals: Float32Array
  readonly reconstructions: Float32Array
  readonly seconds: { readonly vae: number; readonly encode: number; readonly unet: number }
}

const batchOf = (rows: ReadonlyArray<Float32Array>, indices: ReadonlyArray<number>) => {
  const width = rows[0]!.length
  const out = new Float32Array(indices.length * width)
  indices.forEach((index, i) => {
    out.set(rows[index]!, i * width)
  })
  return out
}

/** A random `crop`×`crop` window of each picture (channels first, `size`×`size`). */
const cropsOf = (
  rows: ReadonlyArray<Float32Array>,
  indices: ReadonlyArray<number>,
  size: number,
  crop: number,
  random: () => number,
) => {
  const out = new Float32Array(indices.length * 3 * crop * crop)
  let o = 0
  for (const index of indices) {
    const row = rows[index]!
    const x = Math.floor(random() * (size - crop + 1))
    const y = Math.floor(random() * (size - crop + 1))
    for (let c = 0; c < 3; c++)
      for (let j = 0; j < crop; j++) {
        const start = (c * size + y + j) * size + x
        out.set(row.subarray(start, start + crop), o)
        o += crop
      }
  }
  return out
}

const seconds = (since: number) => (performance.now() - since) / 1000

const progress = (log: (line: string) => void, stage: string, total: number, started: number) => {
  let sum = 0
  let count = 0
  return (step: number, loss: number) =>
    Effect.sync(() => {
      sum += loss
      count++
      if ((step + 1) % 50 === 0 || step + 1 === total || step < 3) {
        log(
          `${stage} ${step + 1}/${total}  loss ${(sum / count).toFixed(4)}  ${seconds(started).toFixed(0)} s`,
        )
        sum = 0
        count = 0
      }
    })
}

/**
 * Pretrains the demo's base model from seeded weights: the procedural set rendered, the VAE trained as an
 * autoencoder, every image encoded once (latents scaled to unit variance, LDM's `scale_by_std`), then the UNet
 * trained on ε-prediction under the seeded text encoder, which stays frozen as SD froze CLIP. Returns every weight of the checkpoint.
 */
export const pretrainDemoModel = (options: PretrainOptions) =>
  Effect.gen(function* () {
    const { seed, size, batch, log } = options
    const backend = yield* Backend
    const scenes = Array.from({ length: options.images }, (_, i) => sceneAt(seed, i))
    const captions = scenes.map(sceneCaption)
    const pixels = yield* Effect.promise(() =>
      Promise.all(scenes.map((s) => svgPixels(sceneSvg(s, size), size))),
    )
    log(`rendered ${scenes.length} scenes of ${size}×${size}, e.g. "${captions[0]}"`)

    const initial: Record<string, HostTensor> = Object.fromEntries(
      Object.entries(syntheticCheckpoint(demoArchitecture, seed).tensors).map(([key, t]) => [
        key,
        toHostTensor(t),
      ]),
    )
    // The posterior starts nearly deterministic (logvar ≈ −8): from seeded weights its logvar is ≈ 0, so the
    // decoder would first see mostly noise and learn only the mean picture for hundreds of steps.
    const quant = initial[`${vaePrefix}.quant_conv.bias`]!
    const embedDim = demoArchitecture.vae.embedDim
    initial[`${vaePrefix}.quant_conv.bias`] = hostTensor(
      "f32",
      quant.shape,
      Float32Array.from(quant.data as Float32Array, (v, i) => (i < embedDim ? v : initialLogvar)),
    )
    const pickBatch = (random: () => number, count = batch) =>
      Array.from({ length: count }, () => Math.floor(random() * scenes.length))

    let started = performance.now()
    const { vaeBatch, vaeCrop } = options
    const vae = vaeTrainingGraph(demoArchitecture, vaeBatch, vaeCrop)
    const vaeRandom = seededRandom(seed ^ 0x7661)
    const { vaeFrom } = options
    const vaeWeights: Record<string, HostTensor> = vaeFrom
      ? yield* Effect.scoped(
          Effect.gen(function* () {
            const file = yield* openModelFile(vaeFrom)
            const entries = yield* Effect.forEach(vae.params, (p) =>
              Effect.map(
                readBaseWeight(file, p.attrs.name, p.shape, "f32"),
                (t) => [p.attrs.name, t] as const,
              ),
            )
            log(`VAE taken from ${vaeFrom}`)
            return Object.fromEntries(entries)
          }),
        )
      : yield* runFullTraining({
          graph: vae.graph,
          initial: (spec) => initial[spec.name] ?? vae.optimizerState[spec.name]!,
          steps: options.vaeSteps,
          inputs: (step) =>
            Effect.succeed({
              image: hostTensor(
                "f32",
                [vaeBatch, 3, vaeCrop, vaeCrop],
                cropsOf(pixels, pickBatch(vaeRandom, vaeBatch), size, vaeCrop, vaeRandom),
              ),
              noise_key: hostTensor("u32", [4], stepKey(seed ^ 0x7661, step + 1)),
            }),
          lr: (step) => cosineLr(options.vaeLr, step, options.vaeSteps, 50),
          onStep: progress(log, "vae", options.vaeSteps, started),
          keep: vae.params.map((p) => p.attrs.name),
        })
    const vaeSeconds = seconds(started)

    started = performance.now()
    const unscaled: SdArchitecture = { ...demoArchitecture, vae: { ...demoArchitecture.vae, scaleFactor: 1 } }
    const codec = vaeCodecGraphs(unscaled, batch, size)
    const latents: Array<Float32Array> = []
    let originals: Float32Array = new Float32Array(0)
    let reconstructions: Float32Array = new Float32Array(0)
    yield* Effect.scoped(
      Effect.gen(function* () {
        const encode = yield* backend.compile(codec.encode)
        const decode = yield* backend.compile(codec.decode)
        const upload = (names: ReadonlyArray<{ readonly name: string }>) =>
          Effect.forEach(names, (spec) =>
            Effect.map(backend.upload(vaeWeights[spec.name]!), (buffer) => [spec.name, buffer] as const),
          ).pipe(Effect.map((entries) => Object.fromEntries(entries)))
        const encodeStates = yield* upload(encode.states)
        const decodeStates = yield* upload(decode.states)
        for (let start = 0; start < scenes.length; start += batch) {
          const indices = Array.from({ length: batch }, (_, i) => Math.min(start + i, scenes.length - 1))
          const out = yield* encode.run(
            {
              image: hostTensor("f32", [batch, 3, size, size], batchOf(pixels, indices)),
              noise_key: hostTensor("u32", [4], stepKey(seed ^ 0x656e63, start + 1)),
            },
            encodeStates,
          )
          const data = out.latent!.data as Float32Array
          const width = data.length / batch
          for (let i = 0; i < batch && start + i < scenes.length; i++)
            latents.push(data.slice(i * width, (i + 1) * width))
          if (start === 0) {
            originals = batchOf(pixels, indices)
            const decoded = yield* decode.run({ latent: out.latent! }, decodeStates)
            reconstructions = decoded.image!.data as Float32Array
          }
        }
      }),
    )
    let sum = 0
    let squares = 0
    let count = 0
    for (const latent of latents)
      for (const v of latent) {
        sum += v
        squares += v * v
        count++
      }
    const std = Math.sqrt(squares / count - (sum / count) ** 2)
    const scaleFactor = 1 / std
    for (const latent of latents) for (let i = 0; i < latent.length; i++) latent[i]! *= scaleFactor
    let error = 0
    for (let i = 0; i < originals.length; i++)
      error += Math.abs(Math.max(-1, Math.min(1, reconstructions[i]!)) - originals[i]!)
    const reconstructionError = (error / originals.length) * 127.5
    log(
      `encoded ${latents.length} images; latent std ${std.toFixed(3)} → scale factor ${scaleFactor.toFixed(5)}; reconstruction error ${reconstructionError.toFixed(1)}/255`,
    )
    const architecture: SdArchitecture = {
      ...demoArchitecture,
      vae: { ...demoArchitecture.vae, scaleFactor: Number(scaleFactor.toPrecision(6)) },
    }
    const encodeSeconds = seconds(started)

    started = performance.now()
    const tokenizer: ClipTokenizer = yield* clipTokenizer
    const latentSize = size / 2 ** (architecture.vae.channelMult.length - 1)
    const unet = unetTrainingGraph(architecture, batch, latentSize, {
      multiresNoiseIterations: options.multiresNoiseIterations,
      multiresNoiseDiscount: options.multiresNoiseDiscount,
    })
    const unetRandom = seededRandom(seed ^ 0x756e)
    const unetWeights = yield* runFullTraining({
      graph: unet.graph,
      initial: (spec) => initial[spec.name] ?? unet.optimizerState[spec.name]!,
      steps: options.unetSteps,
      inputs: (step) =>
        Effect.sync(() => {
          const indices = pickBatch(unetRandom)
          const text = indices.map((i) => (unetRandom() < options.captionDropout ? "" : captions[i]!))
          return {
            latents: hostTensor(
              "f32",
              [batch, architecture.unet.inChannels, latentSize, latentSize],
              batchOf(latents, indices),
            ),
            loss_weights: hostTensor("f32", [batch], new Float32Array(batch).fill(1)),
            noise_key: hostTensor("u32", [4], stepKey(seed, step + 1)),
            ...conditioningValues(tokenizer, architecture, text),
          }
        }),
      lr: (step) => cosineLr(options.unetLr, step, options.unetSteps, 100),
      onStep: progress(log, "unet", options.unetSteps, started),
      keep: unet.params.map((p) => p.attrs.name),
    })
    const unetSeconds = seconds(started)
    const trained = { ...initial, ...vaeWeights, ...unetWeights }
    const weights = Object.fromEntries(
      [...architectureManifest(architecture).keys()].map((key) => [key, trained[key]!]),
    )
    return {
      architecture,
      weights,
      reconstructionError,
      originals,
      reconstructions,
      seconds: { vae: vaeSeconds, encode: encodeSeconds, unet: unetSeconds },
    } satisfies PretrainedModel
  })

/** Writes the model as one LDM single-file checkpoint in f16, its architecture in the metadata. */
export const writeDemoBaseModel = (path: string, model: PretrainedModel, about: Record<string, string>) =>
  writeFileAtomic(
    path,
    (sink) =>
      writeSafetensors(
        sink,
        tensorsInMemory(
          Object.fromEntries(
            Object.entries(model.weights).map(([key, t]) => [key, fromHostTensor(castHostFloat(t, "f16"))]),
          ),
          { ...architectureMetadata(model.architecture), ...about },
        ),
      ),
    { existing: "replace" },
  )
