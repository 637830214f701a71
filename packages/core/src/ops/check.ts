import { DTypeError, ShapeError } from "../errors.js"
import type { DType } from "../tensor/dtype.js"
import type { Shape } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"

export const shapeError = (op: string, detail: string, ...shapes: ReadonlyArray<Shape>): never => {
  throw new ShapeError({ op, detail, shapes })
}

export const dtypeError = (op: string, detail: string, ...dtypes: ReadonlyArray<DType>): never => {
  throw new DTypeError({ op, detail, dtypes })
}

export const sameDType = (op: string, tensors: ReadonlyArray<Tensor>): DType => {
  const dtype = tensors[0]!.dtype
  for (const t of tensors) {
    if (t.dtype !== dtype)
      dtypeError(op, "inputs must share one dtype; cast first", ...tensors.map((x) => x.dtype))
  }
  return dtype
}

export const requireFloat = (op: string, tensor: Tensor): void => {
  if (tensor.dtype !== "f32" && tensor.dtype !== "f16" && tensor.dtype !== "bf16") {
    dtypeError(op, "needs a floating-point input", tensor.dtype)
  }
}

/** Resolves a possibly negative axis against a rank. */
export const normalizeAxis = (op: string, axis: number, rank: number, shape: Shape): number => {
  const resolved = axis < 0 ? axis + rank : axis
  if (!Number.isInteger(resolved) || resolved < 0 || resolved >= rank) {
    shapeError(op, `axis ${axis} is out of range for rank ${rank}`, shape)
  }
  return resolved
}

export const checkDims = (op: string, shape: Shape): void => {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) shapeError(op, "dimensions must be non-negative integers", shape)
  }
}

/** NumPy broadcasting of two shapes. */
export const broadcastShapes = (op: string, a: Shape, b: Shape): Shape => {
  const rank = Math.max(a.length, b.length)
  const out = new Array<number>(rank)
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1
    const db = b[b.length - rank + i] ?? 1
    if (da !== db && da !== 1 && db !== 1) shapeError(op, "shapes do not broadcast", a, b)
    out[i] = da === 1 ? db : da
  }
  return out
}
