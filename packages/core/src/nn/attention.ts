import { attention } from "../composites/attention.js"
import { shapeError } from "../ops/check.js"
import { permute, reshape } from "../ops/movement.js"
import { constant } from "../ops/sources.js"
import type { DType } from "../tensor/dtype.js"
import type { Tensor } from "../tensor/tensor.js"

/** `[B, L, H·D]` → `[B, H, L, D]`. */
export const splitHeads = (x: Tensor, heads: number): Tensor => {
  const [b, l, width] = x.shape as [number, number, number]
  if (x.rank !== 3 || width % heads !== 0)
    shapeError("splitHeads", `needs [B, L, C] with C divisible by ${heads}`, x.shape)
  return permute(reshape(x, [b, l, heads, width / heads]), [0, 2, 1, 3])
}

/** `[B, H, L, D]` → `[B, L, H·D]`. */
export const mergeHeads = (x: Tensor): Tensor => {
  const [b, h, l, d] = x.shape as [number, number, number, number]
  return reshape(permute(x, [0, 2, 1, 3]), [b, l, h * d])
}

/**
 * Multi-head scaled dot-product attention on `[B, L, H·D]` projections (scale `D^-0.5`), as SD's
 * CrossAttention, CLIP's self-attention and `torch.nn.MultiheadAttention` compute it.
 */
export const multiHeadAttention = (q: Tensor, k: Tensor, v: Tensor, heads: number, mask?: Tensor): Tensor =>
  mergeHeads(
    attention(splitHeads(q, heads), splitHeads(k, heads), splitHeads(v, heads), mask ? { mask } : {}),
  )

/** The additive causal mask `[L, L]`: 0 on and below the diagonal, -∞ above (CLIP's text transformer). */
export const causalMask = (length: number, dtype: DType = "f32"): Tensor =>
  constant(
    Array.from({ length: length * length }, (_, i) =>
      i % length > Math.floor(i / length) ? Number.NEGATIVE_INFINITY : 0,
    ),
    [length, length],
    dtype,
  )
