import { broadcastShapes, requireFloat, sameDType, shapeError } from "../ops/check.js"
import { add, mul } from "../ops/elementwise.js"
import { matmul } from "../ops/linalg.js"
import { transpose } from "../ops/movement.js"
import { type Shape, sameShape } from "../tensor/shape.js"
import { record, type Tensor } from "../tensor/tensor.js"
import { softmax } from "./softmax.js"

export interface AttentionOptions {
  /** Multiplies `q·kᵀ`; defaults to `1/sqrt(D)`. */
  readonly scale?: number
  /** Added to the scores before the softmax (`-Infinity` or a large negative number masks). */
  readonly mask?: Tensor
}

/** Scaled dot-product attention `softmax(q·kᵀ·scale + mask)·v` over `[… L D]` tensors. */
export const attention = (
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions = {},
): Tensor<"attention"> => {
  const inputs = options.mask ? [q, k, v, options.mask] : [q, k, v]
  const dtype = sameDType("attention", inputs)
  requireFloat("attention", q)
  const d = q.shape[q.rank - 1]!
  if (q.rank < 2 || k.rank !== q.rank || v.rank !== q.rank)
    shapeError("attention", "q, k, v need one rank ≥ 2", q.shape, k.shape, v.shape)
  if (k.shape[k.rank - 1] !== d) shapeError("attention", "q and k need the same head size", q.shape, k.shape)
  if (k.shape[k.rank - 2] !== v.shape[v.rank - 2])
    shapeError("attention", "k and v need the same length", k.shape, v.shape)
  const scale = options.scale ?? 1 / Math.sqrt(d)
  // Batch dims broadcast as in the two matmuls; the mask must fit the scores without enlarging them.
  const batch = [q, k, v].reduce<Shape>((b, t) => broadcastShapes("attention", b, t.shape.slice(0, -2)), [])
  const scores = [...batch, q.shape[q.rank - 2]!, k.shape[k.rank - 2]!]
  if (options.mask && !sameShape(broadcastShapes("attention", scores, options.mask.shape), scores)) {
    shapeError("attention", "the mask must broadcast to the scores [… Lq Lk]", options.mask.shape, scores)
  }
  const shape = [...batch, q.shape[q.rank - 2]!, v.shape[v.rank - 1]!]
  return record("attention", inputs, { scale }, shape, dtype)
}

/** The attention probabilities `softmax(q·kᵀ·scale + mask)`. */
export const attentionProbabilities = (
  q: Tensor,
  k: Tensor,
  scale: number,
  mask: Tensor | undefined,
): Tensor => {
  const scores = mul(matmul(q, transpose(k)), scale)
  return softmax(mask ? add(scores, mask) : scores, -1)
}

export const decomposeAttention = (
  q: Tensor,
  k: Tensor,
  v: Tensor,
  scale: number,
  mask: Tensor | undefined,
): Tensor => matmul(attentionProbabilities(q, k, scale, mask), v)
