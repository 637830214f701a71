import { cast } from "../ops/cast.js"
import { add, div, equal, maximum, minimum, mul, sub, where } from "../ops/elementwise.js"
import { matmul } from "../ops/linalg.js"
import { transpose } from "../ops/movement.js"
import { constant } from "../ops/sources.js"
import type { Tensor } from "../tensor/tensor.js"

const column = (n: number): Tensor =>
  constant(
    Array.from({ length: n }, (_, i) => i),
    [n, 1],
  )

const row = (n: number): Tensor =>
  constant(
    Array.from({ length: n }, (_, i) => i),
    [1, n],
  )

/**
 * The [size, size] matrix that resizes the first `from` entries of an axis to `size` entries by linear
 * interpolation, as torch's `interpolate(mode="bilinear", align_corners=False)` does along one axis (source
 * position `(i + 0.5)·from/size − 0.5`, clamped at 0, the upper neighbour clamped at `from − 1`). `from` is
 * an f32 scalar tensor, so a size drawn at run time needs no new graph; columns from `from` on stay zero.
 */
export const linearResizeMatrix = (size: number, from: Tensor): Tensor => {
  const scale = div(from, size)
  const source = maximum(sub(mul(add(column(size), 0.5), scale), 0.5), 0)
  const lower = cast(cast(source, "i32"), "f32")
  const upper = minimum(add(lower, 1), sub(from, 1))
  const fraction = sub(source, lower)
  const j = row(size)
  return add(where(equal(j, lower), sub(1, fraction), 0), where(equal(j, upper), fraction, 0))
}

/**
 * Bilinear resize of the top-left `fromH × fromW` corner of `x` [..., H, W] to the full H × W, written as
 * two matrix products so that run-time sizes keep one graph.
 */
export const bilinearResizeCorner = (x: Tensor, fromH: Tensor, fromW: Tensor): Tensor => {
  const h = x.shape[x.rank - 2]!
  const w = x.shape[x.rank - 1]!
  const rows = linearResizeMatrix(h, fromH)
  const columns = linearResizeMatrix(w, fromW)
  return matmul(matmul(rows, x), transpose(columns))
}
