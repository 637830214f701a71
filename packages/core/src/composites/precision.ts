import { cast } from "../ops/cast.js"
import type { Tensor } from "../tensor/tensor.js"

/**
 * Runs `f` in f32 when `x` is f16/bf16 and casts the result back, as torch does inside its norm and
 * softmax kernels: statistics over thousands of elements are not kept in 16 bits.
 */
export const inF32 = (x: Tensor, f: (x32: Tensor) => Tensor): Tensor =>
  x.dtype === "f16" || x.dtype === "bf16" ? cast(f(cast(x, "f32")), x.dtype) : f(x)
