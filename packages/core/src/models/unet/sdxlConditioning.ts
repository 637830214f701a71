import { timestepEmbedding } from "../../nn/timestepEmbedding.js"
import { shapeError } from "../../ops/check.js"
import { concat, reshape } from "../../ops/movement.js"
import type { Tensor } from "../../tensor/tensor.js"

/**
 * SDXL's conditioning vector `y` (SGM `GeneralConditioner` vector outputs, in embedder order): the pooled
 * bigG text embedding, then `original_size (h, w)`, `crop_coords_top_left (top, left)` and
 * `target_size (h, w)`, each number through the sinusoidal timestep embedding (`ConcatTimestepEmbedderND`,
 * 256 wide in SDXL). `sizes` is `[B, 6]` in that order; the result is `[B, pooled + 6·embedDim]` (2816).
 */
export const sdxlVector = (pooled: Tensor, sizes: Tensor, embedDim = 256): Tensor => {
  const [batch, count] = sizes.shape as [number, number]
  if (sizes.rank !== 2 || count !== 6)
    shapeError("sdxlVector", "sizes must be [B, 6]: h, w, top, left, h, w", sizes.shape)
  const embedded = timestepEmbedding(reshape(sizes, [batch * 6]), embedDim)
  return concat([pooled, reshape(embedded, [batch, 6 * embedDim])], 1)
}
