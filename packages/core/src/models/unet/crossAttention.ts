import { multiHeadAttention } from "../../nn/attention.js"
import { linear } from "../../nn/linear.js"
import type { WeightScope } from "../../nn/weightScope.js"
import type { Tensor } from "../../tensor/tensor.js"

export interface CrossAttentionOptions {
  readonly queryDim: number
  /** Width of the context; the query width for self-attention. */
  readonly contextDim: number
  readonly heads: number
  readonly headDim: number
}

/**
 * LDM `CrossAttention` (attention.py): `to_q`, `to_k`, `to_v` without bias, heads split as
 * `b n (h d) → b h n d`, softmax(q·kᵀ/√d)·v, then `to_out.0` with bias. Self-attention when `context` is omitted.
 */
export const crossAttention = (
  scope: WeightScope,
  x: Tensor,
  context: Tensor | undefined,
  options: CrossAttentionOptions,
): Tensor => {
  const { queryDim, contextDim, heads, headDim } = options
  const attention = scope.within("Attention")
  const inner = heads * headDim
  const source = context ?? x
  const sourceDim = context ? contextDim : queryDim
  const q = linear(attention.at("to_q"), x, { inFeatures: queryDim, outFeatures: inner, bias: false })
  const k = linear(attention.at("to_k"), source, { inFeatures: sourceDim, outFeatures: inner, bias: false })
  const v = linear(attention.at("to_v"), source, { inFeatures: sourceDim, outFeatures: inner, bias: false })
  return linear(attention.at("to_out", 0), multiHeadAttention(q, k, v, heads), {
    inFeatures: inner,
    outFeatures: queryDim,
  })
}
