import { shapeError } from "../ops/check.js"
import { cos, mul, sin } from "../ops/elementwise.js"
import { concat, pad, reshape } from "../ops/movement.js"
import { constant } from "../ops/sources.js"
import type { Tensor } from "../tensor/tensor.js"

/**
 * LDM's sinusoidal `timestep_embedding(t, dim)`: `freq_i = exp(-ln(maxPeriod)·i/half)`, output
 * `[cos(t·freq), sin(t·freq)]` — cos first (diffusers: `flip_sin_to_cos=True, freq_shift=0`). `t` is `[B]`
 * (fractional timesteps allowed); the result is `[B, dim]`, zero-padded by one column when `dim` is odd.
 */
export const timestepEmbedding = (t: Tensor, dim: number, maxPeriod = 10000): Tensor => {
  if (t.rank !== 1) shapeError("timestepEmbedding", "timesteps must be a vector [B]", t.shape)
  const half = Math.floor(dim / 2)
  const freqs = constant(
    Array.from({ length: half }, (_, i) => Math.exp((-Math.log(maxPeriod) * i) / half)),
    [1, half],
    t.dtype,
  )
  const args = mul(reshape(t, [t.shape[0]!, 1]), freqs)
  const embedding = concat([cos(args), sin(args)], 1)
  return dim % 2 === 1 ? pad(embedding, [0, 0], [0, 1]) : embedding
}
