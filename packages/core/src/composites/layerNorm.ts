import { requireFloat, sameDType, shapeError } from "../ops/check.js"
import { add, mul, rsqrt, square, sub } from "../ops/elementwise.js"
import { mean } from "../ops/reduce.js"
import { record, type Tensor } from "../tensor/tensor.js"
import { inF32 } from "./precision.js"

/** Layer normalization over the last dimension with a learned scale and shift. */
export const layerNorm = (x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor<"layerNorm"> => {
  sameDType("layerNorm", [x, weight, bias])
  requireFloat("layerNorm", x)
  const d = x.shape[x.rank - 1]
  if (weight.rank !== 1 || weight.shape[0] !== d || bias.rank !== 1 || bias.shape[0] !== d) {
    shapeError("layerNorm", "weight and bias must be [last dim]", x.shape, weight.shape, bias.shape)
  }
  return record("layerNorm", [x, weight, bias], { eps }, x.shape, x.dtype)
}

/** `(x - mean) / sqrt(var + eps)` over the last dim, computed in f32 for 16-bit inputs. */
export const normalizeLastDim = (x: Tensor, eps: number): Tensor =>
  inF32(x, (v) => {
    const centered = sub(v, mean(v, -1, true))
    return mul(centered, rsqrt(add(mean(square(centered), -1, true), eps)))
  })

export const decomposeLayerNorm = (x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor =>
  add(mul(normalizeLastDim(x, eps), weight), bias)
