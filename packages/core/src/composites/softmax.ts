import { normalizeAxis, requireFloat } from "../ops/check.js"
import { div, exp, sub } from "../ops/elementwise.js"
import { max, sum } from "../ops/reduce.js"
import { record, type Tensor } from "../tensor/tensor.js"
import { inF32 } from "./precision.js"

/** Softmax along one axis. */
export const softmax = (x: Tensor, axis = -1): Tensor<"softmax"> => {
  requireFloat("softmax", x)
  return record("softmax", [x], { axis: normalizeAxis("softmax", axis, x.rank, x.shape) }, x.shape, x.dtype)
}

export const decomposeSoftmax = (x: Tensor, axis: number): Tensor =>
  inF32(x, (v) => {
    const e = exp(sub(v, max(v, axis, true)))
    return div(e, sum(e, axis, true))
  })
