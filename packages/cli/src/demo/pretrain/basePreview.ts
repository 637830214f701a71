import {
  architectureOf,
  Backend,
  clipTokenizer,
  conditioningInputs,
  conditioningValues,
  detectCheckpoint,
  Sample,
  T,
  textConditioning,
  unet,
  unetPrefix,
  vaeDecode,
  vaeDownscale,
  vaePrefix,
  WeightScope,
} from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { Effect } from "effect"
import { captionFollowing, type PreviewPrompt, previewPrompts } from "./captionFollowing.js"
import { checkpointProgram, checkpointStates } from "./checkpointProgram.js"
import { gridPng, pixelsPng } from "./sceneImages.js"

/**
 * Samples a checkpoint with A1111's defaults for a quick look (DPM++ 2M, 20 steps, CFG 5, an empty negative
 * prompt): each preview prompt with seeds 1 to `seeds`, as one PNG grid (one prompt per column, one seed per
 * row), and how well the pictures follow their captions' colour words.
 */
export const basePreview = (
  path: string,
  seeds = 4,
  prompts: ReadonlyArray<PreviewPrompt> = previewPrompts,
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const backend = yield* Backend
      const file = yield* openModelFile(path)
      const architecture = yield* architectureOf(file, yield* detectCheckpoint(file))
      const tokenizer = yield* clipTokenizer
      const compile = checkpointProgram(file)
      const n = prompts.length * seeds
      const captions = Array.from({ length: n }, (_, i) => prompts[i % prompts.length]!.prompt)
      const textScope = WeightScope.root()
      const context = textConditioning(
        textScope,
        architecture,
        conditioningInputs(architecture, n),
        undefined,
      ).context
      const encodeText = yield* compile({ outputs: { context }, updates: {} })
      const cond = (yield* encodeText(conditioningValues(tokenizer, architecture, captions))).context!
      const uncond = (yield* encodeText(
        conditioningValues(
          tokenizer,
          architecture,
          captions.map(() => ""),
        ),
      )).context!

      const size = 32
      const latentSize = size / vaeDownscale(architecture)
      const channels = architecture.unet.inChannels
      const unetScope = WeightScope.root()
      const denoiser = Sample.denoiserGraph(
        (inputs) => unet(unetScope.at(unetPrefix), architecture.unet, inputs),
        {
          batch: n,
          channels,
          height: latentSize,
          width: latentSize,
          contextLength: cond.shape[1]!,
          contextDim: cond.shape[2]!,
        },
      )
      const program = yield* backend.compile(denoiser.graph)
      const states = yield* checkpointStates(file, program)
      const latents = yield* Sample.sample({
        sampler: "DPM++ 2M",
        steps: 20,
        denoise: Sample.programDenoiser(
          program,
          { cond, uncond, cfg_scale: Sample.cfgScaleInput(5) },
          states,
        ),
        noise: new Sample.ImageNoise({
          rng: "philox",
          seeds: Array.from({ length: n }, (_, i) => 1 + Math.floor(i / prompts.length)),
          size: channels * latentSize * latentSize,
        }),
      })
      const decodeScope = WeightScope.root()
      const latent = T.input("latent", [n, channels, latentSize, latentSize])
      const decode = yield* compile({
        outputs: { image: vaeDecode(decodeScope.at(vaePrefix), architecture.vae, latent) },
        updates: {},
      })
      const image = (yield* decode({
        latent: { dtype: "f32", shape: [n, channels, latentSize, latentSize], data: latents },
      })).image!.data as Float32Array
      const tiles = yield* Effect.promise(() =>
        Promise.all(Array.from({ length: n }, (_, i) => pixelsPng(image, size, i * 3 * size * size))),
      )
      const png = yield* Effect.promise(() => gridPng(tiles, size, prompts.length, 4))
      return { png, following: captionFollowing(image, n, size, prompts) }
    }),
  )
