import { layerNorm } from "../../nn/layerNorm.js"
import type { WeightScope } from "../../nn/weightScope.js"
import { add } from "../../ops/elementwise.js"
import type { Tensor } from "../../tensor/tensor.js"
import { crossAttention } from "./crossAttention.js"
import { feedForward } from "./feedForward.js"

export interface TransformerBlockOptions {
  readonly dim: number
  readonly contextDim: number
  readonly heads: number
  readonly headDim: number
}

/**
 * LDM `BasicTransformerBlock`: pre-LayerNorm (eps 1e-5) self-attention `attn1`, cross-attention `attn2` on
 * the text context, and the GEGLU feed-forward `ff`, each added to the residual stream.
 */
export const transformerBlock = (
  scope: WeightScope,
  x: Tensor,
  context: Tensor,
  options: TransformerBlockOptions,
): Tensor => {
  const { dim, contextDim, heads, headDim } = options
  let h = add(
    crossAttention(scope.at("attn1"), layerNorm(scope.at("norm1"), x, dim), undefined, {
      queryDim: dim,
      contextDim: dim,
      heads,
      headDim,
    }),
    x,
  )
  h = add(
    crossAttention(scope.at("attn2"), layerNorm(scope.at("norm2"), h, dim), context, {
      queryDim: dim,
      contextDim,
      heads,
      headDim,
    }),
    h,
  )
  return add(feedForward(scope.at("ff"), layerNorm(scope.at("norm3"), h, dim), dim), h)
}
