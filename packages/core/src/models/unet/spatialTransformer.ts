import { conv2d } from "../../nn/conv2d.js"
import { groupNorm } from "../../nn/groupNorm.js"
import { linear } from "../../nn/linear.js"
import type { WeightScope } from "../../nn/weightScope.js"
import { add } from "../../ops/elementwise.js"
import { permute, reshape } from "../../ops/movement.js"
import type { Tensor } from "../../tensor/tensor.js"
import { transformerBlock } from "./transformerBlock.js"

export interface SpatialTransformerOptions {
  readonly channels: number
  readonly heads: number
  readonly headDim: number
  readonly depth: number
  readonly contextDim: number
  /** Linear `proj_in`/`proj_out` on tokens (SD2/SDXL) instead of 1×1 convs on the image (SD1). */
  readonly linear: boolean
  readonly groups: number
}

const toTokens = (x: Tensor): Tensor => {
  const [b, c, h, w] = x.shape as [number, number, number, number]
  return reshape(permute(x, [0, 2, 3, 1]), [b, h * w, c])
}

const toImage = (x: Tensor, like: Tensor): Tensor => {
  const [b, , h, w] = like.shape as [number, number, number, number]
  return permute(reshape(x, [b, h, w, x.shape[2]!]), [0, 3, 1, 2])
}

/**
 * LDM `SpatialTransformer` (diffusers `Transformer2DModel`): GroupNorm (eps 1e-6) → `proj_in` → the image as
 * `[B, H·W, C]` tokens through `transformer_blocks` → `proj_out` → plus the input.
 */
export const spatialTransformer = (
  scope: WeightScope,
  x: Tensor,
  context: Tensor,
  options: SpatialTransformerOptions,
): Tensor => {
  const { channels, heads, headDim, depth, contextDim } = options
  const inner = heads * headDim
  const block = scope.within("Transformer2DModel")
  const normed = groupNorm(block.at("norm"), x, { channels, groups: options.groups, eps: 1e-6 })
  let tokens = options.linear
    ? linear(block.at("proj_in"), toTokens(normed), { inFeatures: channels, outFeatures: inner })
    : toTokens(conv2d(block.at("proj_in"), normed, { inChannels: channels, outChannels: inner, kernel: 1 }))
  for (let i = 0; i < depth; i++) {
    tokens = transformerBlock(block.at("transformer_blocks", i), tokens, context, {
      dim: inner,
      contextDim,
      heads,
      headDim,
    })
  }
  const out = options.linear
    ? toImage(linear(block.at("proj_out"), tokens, { inFeatures: inner, outFeatures: channels }), x)
    : conv2d(block.at("proj_out"), toImage(tokens, normed), {
        inChannels: inner,
        outChannels: channels,
        kernel: 1,
      })
  return add(out, x)
}
