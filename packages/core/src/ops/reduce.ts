import type { Shape } from "../tensor/shape.js"
import { record, type Tensor } from "../tensor/tensor.js"
import { dtypeError, normalizeAxis, shapeError } from "./check.js"
import { mul } from "./elementwise.js"

const reduce =
  (op: "sum" | "max") =>
  (x: Tensor, axes?: number | ReadonlyArray<number>, keepDims = false): Tensor<"sum" | "max"> => {
    if (x.dtype === "bool") dtypeError(op, "does not take bool inputs; cast first", x.dtype)
    const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === "number" ? [axes] : axes
    const resolved = [...new Set(list.map((a) => normalizeAxis(op, a, x.rank, x.shape)))].sort(
      (a, b) => a - b,
    )
    for (const axis of resolved) {
      if (x.shape[axis] === 0) shapeError(op, `cannot reduce over empty axis ${axis}`, x.shape)
    }
    const shape: Shape = keepDims
      ? x.shape.map((d, i) => (resolved.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !resolved.includes(i))
    return record(op, [x], { axes: resolved, keepDims }, shape, x.dtype)
  }

/** Sum over `axes` (all axes when omitted). */
export const sum = reduce("sum")
/** Maximum over `axes` (all axes when omitted). */
export const max = reduce("max")

/** Mean over `axes`: a sum times the reciprocal count, so it needs no op of its own. */
export const mean = (x: Tensor, axes?: number | ReadonlyArray<number>, keepDims = false): Tensor => {
  const reduced = sum(x, axes, keepDims)
  const count = x.shape.reduce((a, b) => a * b, 1) / reduced.shape.reduce((a, b) => a * b, 1)
  return mul(reduced, 1 / count)
}
