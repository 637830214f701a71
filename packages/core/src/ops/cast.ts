import type { DType } from "../tensor/dtype.js"
import { record, type Tensor } from "../tensor/tensor.js"

/** Converts to another dtype (float → int truncates toward zero; anything → bool is `!= 0`). */
export const cast = (x: Tensor, dtype: DType): Tensor =>
  x.dtype === dtype ? x : record("cast", [x], { dtype }, x.shape, dtype)
