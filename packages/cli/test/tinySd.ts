import {
  architectureMetadata,
  type ClipTextConfig,
  fromHostTensor,
  type HostTensor,
  hostTensor,
  kohyaMetadata,
  type LoraModuleWeights,
  LoraNetwork,
  Random,
  type SdArchitecture,
  sd1TextConditioning,
  sd2TextConditioning,
  sdxlTextConditioning,
  sdxlVector,
  T,
  type Tensor,
  tensorsInMemory,
  tinyClipL,
  tinyOpenClip,
  tinySd1UNet,
  tinySd2UNet,
  tinySdxlUNet,
  tinyVae,
  unet,
  unetPrefix,
  vaeDecode,
  vaePrefix,
  WeightScope,
  writeKohyaLora,
  writeSafetensors,
} from "@danlu/core"
import { writeFileAtomic } from "@danlu/core/node"
import { Effect } from "effect"

/** The real tokenizer's vocabulary and 77-token chunks on a toy-width text encoder. */
const text = (config: ClipTextConfig): ClipTextConfig => ({ ...config, vocabSize: 49408, maxPositions: 77 })

/** A tiny SD1-layout model (VAE factor 2: 16×16 pictures are 8×8 latents). */
export const tinySd1: SdArchitecture = {
  family: "sd1",
  prediction: "epsilon",
  unet: tinySd1UNet,
  text: [text(tinyClipL)],
  vae: tinyVae,
}

const tinySd2: SdArchitecture = {
  family: "sd2",
  prediction: "epsilon",
  unet: { ...tinySd2UNet, contextDim: 32 },
  text: [text(tinyOpenClip)],
  vae: tinyVae,
}

/** A tiny SDXL-layout model: CLIP-L and an OpenCLIP "bigG" with a 24-wide pooled projection. */
export const tinySdxl: SdArchitecture = {
  family: "sdxl",
  prediction: "epsilon",
  unet: { ...tinySdxlUNet, contextDim: 64, admInChannels: 24 + 6 * 4 },
  text: [text(tinyClipL), text(tinyOpenClip)],
  vae: tinyVae,
}

const build = (architecture: SdArchitecture, scope: WeightScope): void => {
  const tokens = T.input("tokens", [1, 77], "i32")
  const config = architecture.text[0]!
  let y: Tensor | undefined
  let context: Tensor
  if (architecture.family === "sdxl") {
    const out = sdxlTextConditioning(
      scope,
      { clipL: config, bigG: architecture.text[1]! },
      tokens,
      T.input("tokens_2", [1, 77], "i32"),
      T.input("eos", [1], "i32"),
    )
    context = out.context
    y = sdxlVector(out.pooled, T.input("sizes", [1, 6]), 4)
  } else {
    context =
      architecture.family === "sd2"
        ? sd2TextConditioning(scope, config, tokens)
        : sd1TextConditioning(scope, config, tokens)
  }
  unet(scope.at(unetPrefix), architecture.unet, {
    x: T.input("x", [1, 4, 8, 8]),
    timesteps: T.input("t", [1]),
    context,
    ...(y ? { y } : {}),
  })
  vaeDecode(scope.at(vaePrefix), architecture.vae, T.input("z", [1, 4, 8, 8]))
}

const seeded = (shape: ReadonlyArray<number>, index: number, seed: number, scale: number) => {
  const n = shape.reduce((a, b) => a * b, 1)
  const fanIn = Math.max(
    1,
    shape.slice(1).reduce((a, b) => a * b, 1),
  )
  const u = Random.uniformF32(n, seed, index)
  return Float32Array.from(u, (v) => ((2 * v - 1) * scale) / Math.sqrt(fanIn))
}

/** The tiny SD1 model's seeded weights by checkpoint key. */
export const tinyModelWeights = (seed = 2025, architecture = tinySd1): Record<string, HostTensor> => {
  const scope = WeightScope.root()
  build(architecture, scope)
  return Object.fromEntries(
    [...scope.manifest().values()].map((e, i) => {
      // Norm scales 1 and biases around 0.15: a zero final LayerNorm bias would leave each prompt chunk's
      // mean near 0, where A1111's mean-restoring emphasis divides by almost nothing.
      const data =
        e.shape.length === 1
          ? e.key.endsWith(".weight")
            ? new Float32Array(e.shape[0]!).fill(1)
            : seeded(e.shape, i, seed, 0.1).map((v) => 0.15 + v)
          : seeded(e.shape, i, seed, 1)
      return [e.key, hostTensor("f32", e.shape, data)]
    }),
  )
}

/** Writes the tiny SD1 checkpoint with its architecture in the metadata. */
export const writeTinyModel = (
  path: string,
  weights: Record<string, HostTensor> = tinyModelWeights(),
  architecture = tinySd1,
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const tensors = Object.fromEntries(Object.entries(weights).map(([key, t]) => [key, fromHostTensor(t)]))
      yield* writeFileAtomic(
        path,
        (sink) => writeSafetensors(sink, tensorsInMemory(tensors, architectureMetadata(architecture))),
        { existing: "replace" },
      )
    }),
  )

interface TinyLoraOptions {
  readonly seed?: number
  readonly family?: "sd1" | "sd2" | "sdxl"
  readonly extra?: Record<string, string>
}

/** A LoRA for the tiny SD1 model (or a tiny SD2 one): rank 4, alpha 2, seeded non-zero `up` weights. */
export const tinyLoraModules = (options: TinyLoraOptions = {}): Array<LoraModuleWeights> => {
  const network = LoraNetwork.create({
    rank: 4,
    alpha: 2,
    unetNaming: options.family === "sdxl" ? "ldm" : "diffusers",
  })
  const architecture = options.family === "sd2" ? tinySd2 : options.family === "sdxl" ? tinySdxl : tinySd1
  build(architecture, WeightScope.root({ adapters: [network.adapter] }))
  const seed = options.seed ?? 7
  const weights = network.initialWeights(seed)
  network.modules().forEach((module, i) => {
    const up = weights[`${module.name}.lora_up.weight`]!
    weights[`${module.name}.lora_up.weight`] = { ...up, data: seeded(up.shape, i, seed + 1, 4) }
  })
  return network.moduleWeights(weights)
}

/** Writes {@link tinyLoraModules} as a kohya file. */
export const writeTinyLora = (path: string, options: TinyLoraOptions = {}) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const modules = tinyLoraModules(options)
      const metadata = kohyaMetadata({
        family: options.family ?? "sd1",
        rank: 4,
        alpha: 2,
        title: "tiny",
        resolution: [16, 16],
        ...(options.extra ? { extra: options.extra } : {}),
      })
      yield* writeFileAtomic(path, (sink) => writeKohyaLora(sink, modules, metadata, "F32"), {
        existing: "replace",
      })
    }),
  )
