import {
  architectureOf,
  clipTokenizer,
  conditioningInputs,
  conditioningValues,
  detectCheckpoint,
  hostTensor,
  noiseSchedule,
  T,
  textConditioning,
  unet,
  unetPrefix,
  vaeDownscale,
  vaeEncode,
  vaeLatent,
  vaePrefix,
  WeightScope,
} from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { Effect } from "effect"
import { checkpointProgram } from "./checkpointProgram.js"
import { svgPixels } from "./sceneImages.js"
import { backgrounds, type Scene, sceneCaption, sceneSvg, seededRandom } from "./scenes.js"

/** Where a model takes the background's colour from at the first sampling step. */
export interface ColourSource {
  /** How far the captions move the predicted border colour, as a share of how far it really differs (1 = all). */
  readonly captionSpread: number
  /** The share of the variance of the predicted border colour that comes from the starting noise. */
  readonly seedShare: number
}

const meanOf = (rows: ReadonlyArray<ReadonlyArray<number>>): Array<number> =>
  rows[0]!.map((_, c) => rows.reduce((sum, row) => sum + row[c]!, 0) / rows.length)

const squaredDistance = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) =>
  a.reduce((sum, v, c) => sum + (v - b[c]!) ** 2, 0)

const spread = (rows: ReadonlyArray<ReadonlyArray<number>>) => {
  const centre = meanOf(rows)
  return rows.reduce((sum, row) => sum + squaredDistance(row, centre), 0) / rows.length
}

/**
 * `predicted[caption][seed]` and `truth[caption]` are border colours (one value per latent channel): the
 * captions' share is the spread of the per-caption means against the spread of the true colours, the seeds'
 * share the spread of the per-seed means against the spread of every prediction.
 */
export const colourSourceOf = (
  predicted: ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>,
  truth: ReadonlyArray<ReadonlyArray<number>>,
): ColourSource => {
  const byCaption = predicted.map(meanOf)
  const bySeed = predicted[0]!.map((_, s) => meanOf(predicted.map((row) => row[s]!)))
  return {
    captionSpread: Math.sqrt(spread(byCaption) / spread(truth)),
    seedShare: spread(bySeed) / spread(predicted.flat()),
  }
}

const t = 999
const noiseSeed = 1

/** A large red circle over each plain background: captions that differ only in the background's colour. */
const scenes: ReadonlyArray<Scene> = backgrounds.map((_, index) => ({
  shapes: [{ shape: "circle", colour: "red", large: true, x: 0.5, y: 0.5, place: "" }],
  background: { kind: "colour", index, texture: "plain" },
}))

/** The mean of each channel over the latent's outer two pixels. */
const borderColour = (latent: Float32Array, offset: number, channels: number, side: number) =>
  Array.from({ length: channels }, (_, c) => {
    let sum = 0
    let count = 0
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++)
        if (x < 2 || y < 2 || x >= side - 2 || y >= side - 2) {
          sum += latent[offset + (c * side + y) * side + x]!
          count++
        }
    return sum / count
  })

/**
 * Whether a checkpoint of the demo's family follows background colours at all: the six backgrounds' captions,
 * each denoised from the same `seeds` noises at t = 999, and the predicted clean latents' border colours
 * compared with the true scenes' (encoded by the checkpoint's VAE). The bundled model gives a caption spread of
 * about 0.01 and a seed share of 1: it reads the colour off the noise.
 */
export const colourSource = (path: string, seeds = 8) =>
  Effect.scoped(
    Effect.gen(function* () {
      const file = yield* openModelFile(path)
      const architecture = yield* architectureOf(file, yield* detectCheckpoint(file))
      const tokenizer = yield* clipTokenizer
      const compile = checkpointProgram(file)
      const size = 32
      const side = size / vaeDownscale(architecture)
      const channels = architecture.unet.inChannels
      const area = channels * side * side
      const count = scenes.length

      const image = T.input("image", [count, 3, size, size])
      const posterior = vaeEncode(WeightScope.root().at(vaePrefix), architecture.vae, image)
      const encode = yield* compile({
        outputs: { latent: vaeLatent(architecture.vae, posterior) },
        updates: {},
      })
      const pixels = yield* Effect.promise(() =>
        Promise.all(scenes.map((s) => svgPixels(sceneSvg(s, size), size))),
      )
      const batch = new Float32Array(count * 3 * size * size)
      pixels.forEach((p, i) => {
        batch.set(p, i * p.length)
      })
      const latents = (yield* encode({ image: hostTensor("f32", [count, 3, size, size], batch) })).latent!
        .data as Float32Array
      const truth = scenes.map((_, i) => borderColour(latents, i * area, channels, side))

      const n = count * seeds
      const context = textConditioning(
        WeightScope.root(),
        architecture,
        conditioningInputs(architecture, n),
        undefined,
      ).context
      const encodeText = yield* compile({ outputs: { context }, updates: {} })
      const captions = Array.from({ length: n }, (_, i) => sceneCaption(scenes[Math.floor(i / seeds)]!))
      const cond = (yield* encodeText(conditioningValues(tokenizer, architecture, captions))).context!
      const x = T.input("x", [n, channels, side, side])
      const timesteps = T.input("t", [n])
      const ctx = T.input("context", cond.shape)
      const eps = unet(WeightScope.root().at(unetPrefix), architecture.unet, { x, timesteps, context: ctx })
      const denoise = yield* compile({ outputs: { eps }, updates: {} })

      const random = seededRandom(noiseSeed)
      const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
      const noises = Array.from({ length: seeds }, () => Float32Array.from({ length: area }, gaussian))
      const noisy = new Float32Array(n * area)
      for (let i = 0; i < n; i++) noisy.set(noises[i % seeds]!, i * area)
      const predictedNoise = (yield* denoise({
        x: hostTensor("f32", [n, channels, side, side], noisy),
        t: hostTensor("f32", [n], new Float32Array(n).fill(t)),
        context: cond,
      })).eps!.data as Float32Array
      const alpha = noiseSchedule().alphasCumprod[t]!
      const clean = Float32Array.from(
        noisy,
        (v, i) => (v - Math.sqrt(1 - alpha) * predictedNoise[i]!) / Math.sqrt(alpha),
      )
      const predicted = scenes.map((_, c) =>
        Array.from({ length: seeds }, (_, s) => borderColour(clean, (c * seeds + s) * area, channels, side)),
      )
      return colourSourceOf(predicted, truth)
    }),
  )
