import type { WeightScope } from "../../nn/weightScope.js"
import { cast } from "../../ops/cast.js"
import { shapeError } from "../../ops/check.js"
import { add, mul } from "../../ops/elementwise.js"
import { gather } from "../../ops/indexing.js"
import { concat, reshape } from "../../ops/movement.js"
import { arange } from "../../ops/sources.js"
import type { Tensor } from "../../tensor/tensor.js"
import type { ModelBuildOptions } from "../buildOptions.js"
import type { ClipTextConfig } from "./config.js"
import { type TextTransformerOutput, textTransformer } from "./textTransformer.js"

/** Checkpoint roots of the text encoders in LDM/SGM single-file checkpoints. */
export const textEncoderPrefixes = {
  sd1: "cond_stage_model.transformer",
  sd2: "cond_stage_model.model",
  sdxlClipL: "conditioner.embedders.0.transformer",
  sdxlBigG: "conditioner.embedders.1.model",
} as const

/**
 * The hidden state A1111's "clip skip" picks: n = 1 is the last layer, n = 2 the one before it, …
 * (`hidden_states[-n]`). A1111 then applies the final LayerNorm for SD1 (`CLIP_stop_at_last_layers`).
 */
export const clipSkipHidden = (out: TextTransformerOutput, clipSkip: number): Tensor => {
  const index = out.hidden.length - clipSkip
  if (!Number.isInteger(clipSkip) || clipSkip < 1 || index < 1)
    shapeError("clipSkip", `clip skip ${clipSkip} must be 1 … ${out.hidden.length - 1}`)
  return out.hidden[index]!
}

/** The rows `x[b, positions[b]]` of `[B, L, D]` for `positions` `[B]` i32 (the EOS token of each prompt). */
export const gatherPositions = (x: Tensor, positions: Tensor): Tensor => {
  const [b, l, d] = x.shape as [number, number, number]
  const flat = add(cast(positions, "i32"), mul(arange(b, "i32"), l))
  return reshape(gather(reshape(x, [b * l, d]), flat), [b, d])
}

/**
 * SD1 conditioning (CompVis `FrozenCLIPEmbedder` with A1111's clip skip): the final LayerNorm of
 * `hidden_states[-clipSkip]` of CLIP-L at `cond_stage_model.transformer`; `[B, L, 768]`.
 */
export const sd1TextConditioning = (
  scope: WeightScope,
  config: ClipTextConfig,
  tokens: Tensor,
  clipSkip = 1,
  options: ModelBuildOptions = {},
): Tensor => {
  const out = textTransformer(scope.family("sd1").at(textEncoderPrefixes.sd1), config, tokens, "te", options)
  return out.finalLayerNorm(clipSkipHidden(out, clipSkip))
}

/**
 * SD2 conditioning (Stability `FrozenOpenCLIPEmbedder`, `layer: penultimate`): `ln_final` of the
 * penultimate layer of OpenCLIP ViT-H at `cond_stage_model.model` (clip skip 2; A1111 keeps it fixed).
 * With clip skip 2 or more the last layer's output is unused, and LoRA networks leave it alone.
 */
export const sd2TextConditioning = (
  scope: WeightScope,
  config: ClipTextConfig,
  tokens: Tensor,
  clipSkip = 2,
  options: ModelBuildOptions = {},
): Tensor => {
  // sd-scripts builds SD2's text encoder without its last layer, so its LoRA files never adapt it.
  const out = textTransformer(scope.family("sd2").at(textEncoderPrefixes.sd2), config, tokens, "te", {
    ...options,
    unadaptedLastLayer: clipSkip >= 2,
  })
  return out.finalLayerNorm(clipSkipHidden(out, clipSkip))
}

export interface SdxlTextConditioning {
  /** `[B, L, 768 + 1280]`: both penultimate hidden states, no final LayerNorm. */
  readonly context: Tensor
  /** `[B, 1280]`: bigG's `ln_final(last)` at the EOS token, times `text_projection`. */
  readonly pooled: Tensor
}

/**
 * SDXL conditioning (SGM `GeneralConditioner`): CLIP-L `hidden_states[-clipSkip]` (penultimate by default,
 * `layer_idx 11`) and bigG's penultimate hidden state, concatenated per token; plus bigG's pooled
 * projection. `tokensL` pads with 49407 and `tokensG` with 0 (each tokenizer's rule); `eosG` `[B]` i32 holds
 * the EOS position in `tokensG` (`argmax` of the ids).
 */
export const sdxlTextConditioning = (
  scope: WeightScope,
  configs: { readonly clipL: ClipTextConfig; readonly bigG: ClipTextConfig },
  tokensL: Tensor,
  tokensG: Tensor,
  eosG: Tensor,
  clipSkip = 2,
  options: ModelBuildOptions = {},
): SdxlTextConditioning => {
  const sdxl = scope.family("sdxl")
  const l = textTransformer(sdxl.at(textEncoderPrefixes.sdxlClipL), configs.clipL, tokensL, "te1", options)
  const g = textTransformer(sdxl.at(textEncoderPrefixes.sdxlBigG), configs.bigG, tokensG, "te2", options)
  if (!g.project)
    shapeError("sdxlTextConditioning", "the bigG config needs a projectionDim for the pooled output")
  const last = g.finalLayerNorm(g.hidden[g.hidden.length - 1]!)
  return {
    context: concat([clipSkipHidden(l, clipSkip), clipSkipHidden(g, clipSkip)], 2),
    pooled: g.project!(gatherPositions(last, eosG)),
  }
}
