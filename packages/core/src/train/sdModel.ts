import type { ModelBuildOptions } from "../models/buildOptions.js"
import {
  sd1TextConditioning,
  sd2TextConditioning,
  sdxlTextConditioning,
} from "../models/clip/conditioning.js"
import { sdxlVector } from "../models/unet/sdxlConditioning.js"
import { unet, unetPrefix } from "../models/unet/unet.js"
import type { WeightScope } from "../nn/weightScope.js"
import { input } from "../ops/sources.js"
import { type HostTensor, hostTensor } from "../tensor/hostTensor.js"
import type { Tensor } from "../tensor/tensor.js"
import { CLIP_END_OF_TEXT, CLIP_START_OF_TEXT, type ClipTokenizer } from "../text/clipTokenizer.js"
import type { SdArchitecture } from "./architecture.js"

/**
 * The graph inputs that carry a batch's text: token ids per text encoder and, for SDXL, bigG's EOS position
 * and the size conditioning `[B, 6]` (original h, w, crop top, left, target h, w).
 */
export interface ConditioningInputs {
  readonly tokens: ReadonlyArray<Tensor>
  readonly eos: Tensor | undefined
  readonly sizes: Tensor | undefined
}

/** Input names, so host code and graphs agree. */
export const conditioningInputNames = {
  tokens: (encoder: number) => (encoder === 0 ? "tokens" : `tokens_${encoder + 1}`),
  eos: "eos_2",
  sizes: "sizes",
} as const

export const conditioningInputs = (architecture: SdArchitecture, batch: number): ConditioningInputs => ({
  tokens: architecture.text.map((config, i) =>
    input(conditioningInputNames.tokens(i), [batch, config.maxPositions], "i32"),
  ),
  eos: architecture.family === "sdxl" ? input(conditioningInputNames.eos, [batch], "i32") : undefined,
  sizes: architecture.family === "sdxl" ? input(conditioningInputNames.sizes, [batch, 6]) : undefined,
})

/** What the UNet is conditioned on: cross-attention context and, for SDXL, the vector `y`. */
export interface Conditioning {
  readonly context: Tensor
  readonly y: Tensor | undefined
}

/**
 * The text conditioning of a family as the original pipelines and kohya compute it. `clipSkip` counts
 * from the last layer as A1111 does (1 = last); SD2 and SDXL default to the penultimate layer.
 */
export const textConditioning = (
  scope: WeightScope,
  architecture: SdArchitecture,
  inputs: ConditioningInputs,
  clipSkip: number | undefined,
  options: ModelBuildOptions = {},
): Conditioning => {
  const [first, second] = architecture.text
  const [tokens, tokens2] = inputs.tokens
  switch (architecture.family) {
    case "sd1":
      return { context: sd1TextConditioning(scope, first!, tokens!, clipSkip ?? 1, options), y: undefined }
    case "sd2":
      return { context: sd2TextConditioning(scope, first!, tokens!, clipSkip ?? 2, options), y: undefined }
    case "sdxl": {
      const out = sdxlTextConditioning(
        scope,
        { clipL: first!, bigG: second! },
        tokens!,
        tokens2!,
        inputs.eos!,
        clipSkip ?? 2,
        options,
      )
      return { context: out.context, y: sdxlVector(out.pooled, inputs.sizes!) }
    }
  }
}

/** The UNet as a function of noisy latents and timesteps, under a fixed conditioning. */
export const conditionedUNet =
  (
    scope: WeightScope,
    architecture: SdArchitecture,
    conditioning: Conditioning,
    options: ModelBuildOptions = {},
  ) =>
  (x: Tensor, timesteps: Tensor): Tensor =>
    unet(
      scope.at(unetPrefix),
      architecture.unet,
      { x, timesteps, context: conditioning.context, ...(conditioning.y ? { y: conditioning.y } : {}) },
      options,
    )

/**
 * A caption's ids in one context window of `length` positions: start, as many tokens as fit, end, then
 * padding (CLIP-L pads with end-of-text, OpenCLIP with 0), as kohya's single-chunk `max_token_length` 75.
 */
export const encodeCaption = (
  tokenizer: ClipTokenizer,
  caption: string,
  length: number,
  pad: "end-of-text" | "zero",
): Int32Array => {
  const ids = tokenizer.encode(caption).slice(0, length - 2)
  const out = new Int32Array(length).fill(pad === "zero" ? 0 : CLIP_END_OF_TEXT)
  out[0] = CLIP_START_OF_TEXT
  out.set(ids, 1)
  out[ids.length + 1] = CLIP_END_OF_TEXT
  return out
}

/** Per-sample SDXL size conditioning: original size, crop's top-left corner, target size (kohya's order). */
export interface SizeConditioning {
  readonly originalSize: { readonly width: number; readonly height: number }
  readonly crop: { readonly left: number; readonly top: number }
  readonly targetSize: { readonly width: number; readonly height: number }
}

/** Host values of the conditioning inputs for a batch of captions. */
export const conditioningValues = (
  tokenizer: ClipTokenizer,
  architecture: SdArchitecture,
  captions: ReadonlyArray<string>,
  sizes?: ReadonlyArray<SizeConditioning>,
): Record<string, HostTensor> => {
  const batch = captions.length
  const values: Record<string, HostTensor> = {}
  architecture.text.forEach((config, encoder) => {
    const pad = config.layout === "openclip" ? "zero" : "end-of-text"
    const data = new Int32Array(batch * config.maxPositions)
    captions.forEach((caption, b) => {
      data.set(encodeCaption(tokenizer, caption, config.maxPositions, pad), b * config.maxPositions)
    })
    values[conditioningInputNames.tokens(encoder)] = hostTensor("i32", [batch, config.maxPositions], data)
  })
  if (architecture.family === "sdxl") {
    const bigG = architecture.text[1]!
    const tokens = values[conditioningInputNames.tokens(1)]!.data as Int32Array
    const eos = new Int32Array(batch)
    for (let b = 0; b < batch; b++) {
      const row = tokens.subarray(b * bigG.maxPositions, (b + 1) * bigG.maxPositions)
      eos[b] = row.indexOf(CLIP_END_OF_TEXT)
    }
    values[conditioningInputNames.eos] = hostTensor("i32", [batch], eos)
    const sizeData = new Float32Array(batch * 6)
    for (let b = 0; b < batch; b++) {
      const s = sizes?.[b]
      if (!s) throw new RangeError("SDXL needs the size conditioning of every sample")
      sizeData.set(
        [
          s.originalSize.height,
          s.originalSize.width,
          s.crop.top,
          s.crop.left,
          s.targetSize.height,
          s.targetSize.width,
        ],
        b * 6,
      )
    }
    values[conditioningInputNames.sizes] = hostTensor("f32", [batch, 6], sizeData)
  }
  return values
}
