import { requireFloat, shapeError } from "../ops/check.js"
import { add, erf, mul, sigmoid } from "../ops/elementwise.js"
import { chunk } from "../ops/movement.js"
import { record, type Tensor } from "../tensor/tensor.js"

/** GELU with the exact error function, torch's default (`approximate="none"`). */
export const gelu = (x: Tensor): Tensor<"gelu"> => {
  requireFloat("gelu", x)
  return record("gelu", [x], {}, x.shape, x.dtype)
}

/** GEGLU as in SD's feed-forward: the last dim halves into `hidden` and `gate`; returns `hidden · gelu(gate)`. */
export const geglu = (x: Tensor): Tensor<"geglu"> => {
  requireFloat("geglu", x)
  const d = x.shape[x.rank - 1]
  if (d === undefined || d % 2 !== 0) shapeError("geglu", "the last dimension must be even", x.shape)
  return record("geglu", [x], {}, [...x.shape.slice(0, -1), d! / 2], x.dtype)
}

/** SiLU (swish): `x · sigmoid(x)`. */
export const silu = (x: Tensor): Tensor<"silu"> => {
  requireFloat("silu", x)
  return record("silu", [x], {}, x.shape, x.dtype)
}

export const decomposeGelu = (x: Tensor): Tensor => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1))

export const decomposeGeglu = (x: Tensor): Tensor => {
  const [hidden, gate] = chunk(x, 2, -1) as [Tensor, Tensor]
  return mul(hidden, decomposeGelu(gate))
}

export const decomposeSilu = (x: Tensor): Tensor => mul(x, sigmoid(x))
