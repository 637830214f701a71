import { silu } from "../../composites/activations.js"
import { conv2d } from "../../nn/conv2d.js"
import { groupNorm } from "../../nn/groupNorm.js"
import { linear } from "../../nn/linear.js"
import type { WeightScope } from "../../nn/weightScope.js"
import { add } from "../../ops/elementwise.js"
import { reshape } from "../../ops/movement.js"
import type { Tensor } from "../../tensor/tensor.js"

export interface ResBlockOptions {
  readonly inChannels: number
  readonly outChannels: number
  /** Width of the time embedding (4 × model channels). */
  readonly embedChannels: number
  readonly groups: number
}

/**
 * LDM `ResBlock` (openaimodel.py), `use_scale_shift_norm=False`: `in_layers` = GroupNorm(eps 1e-5) → SiLU →
 * 3×3 conv; the time embedding goes through SiLU → `emb_layers.1` and is added per channel; `out_layers` =
 * GroupNorm → SiLU → (dropout) → 3×3 conv; a 1×1 `skip_connection` when the width changes.
 * Diffusers calls it `ResnetBlock2D` with `norm1, conv1, time_emb_proj, norm2, conv2, conv_shortcut`.
 */
export const resBlock = (scope: WeightScope, x: Tensor, emb: Tensor, options: ResBlockOptions): Tensor => {
  const { inChannels, outChannels, embedChannels, groups } = options
  const block = scope.within("ResnetBlock2D")
  let h = groupNorm(block.at("in_layers", 0).alias("norm1"), x, { channels: inChannels, groups })
  h = conv2d(block.at("in_layers", 2).alias("conv1"), silu(h), {
    inChannels,
    outChannels,
    kernel: 3,
    padding: 1,
  })
  const embOut = linear(block.at("emb_layers", 1).alias("time_emb_proj"), silu(emb), {
    inFeatures: embedChannels,
    outFeatures: outChannels,
  })
  h = add(h, reshape(embOut, [embOut.shape[0]!, outChannels, 1, 1]))
  h = groupNorm(block.at("out_layers", 0).alias("norm2"), h, { channels: outChannels, groups })
  h = conv2d(block.at("out_layers", 3).alias("conv2"), silu(h), {
    inChannels: outChannels,
    outChannels,
    kernel: 3,
    padding: 1,
  })
  const skip =
    inChannels === outChannels
      ? x
      : conv2d(block.at("skip_connection").alias("conv_shortcut"), x, { inChannels, outChannels, kernel: 1 })
  return add(skip, h)
}
