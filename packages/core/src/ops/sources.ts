import type { DType } from "../tensor/dtype.js"
import { type Shape, sizeOf } from "../tensor/shape.js"
import { record, type Tensor } from "../tensor/tensor.js"
import { checkDims, dtypeError, shapeError } from "./check.js"

/** A value the caller feeds on every run of a compiled program. */
export const input = (name: string, shape: Shape, dtype: DType = "f32"): Tensor<"input"> => {
  checkDims("input", shape)
  return record("input", [], { name }, [...shape], dtype)
}

/** A value that stays on the device between runs: base weights, LoRA weights, optimizer moments. */
export const state = (name: string, shape: Shape, dtype: DType = "f32"): Tensor<"state"> => {
  checkDims("state", shape)
  return record("state", [], { name }, [...shape], dtype)
}

/**
 * A literal as an element of `dtype` holds it: bool is `value != 0` (as `cast`), i32/u32 truncate and
 * wrap (as a typed-array store). Recording the stored value keeps every backend's literal the same.
 */
export const storedValue = (dtype: DType, value: number): number =>
  dtype === "bool"
    ? value !== 0
      ? 1
      : 0
    : dtype === "i32"
      ? value | 0
      : dtype === "u32"
        ? value >>> 0
        : value

/** Small literal data baked into the graph. */
export const constant = (
  values: ArrayLike<number>,
  shape: Shape,
  dtype: DType = "f32",
): Tensor<"constant"> => {
  checkDims("constant", shape)
  if (values.length !== sizeOf(shape))
    shapeError("constant", `${values.length} values do not fill the shape`, shape)
  return record(
    "constant",
    [],
    { values: Array.from(values, (v) => storedValue(dtype, v)) },
    [...shape],
    dtype,
  )
}

/** One value broadcast over a shape (a scalar when the shape is `[]`). */
export const full = (value: number, shape: Shape = [], dtype: DType = "f32"): Tensor<"full"> => {
  checkDims("full", shape)
  return record("full", [], { value: storedValue(dtype, value) }, [...shape], dtype)
}

export const zeros = (shape: Shape, dtype: DType = "f32"): Tensor<"full"> => full(0, shape, dtype)
export const ones = (shape: Shape, dtype: DType = "f32"): Tensor<"full"> => full(1, shape, dtype)

/** 0, 1, …, n-1 along one axis. */
export const arange = (n: number, dtype: DType = "f32"): Tensor<"constant"> =>
  constant(
    Array.from({ length: n }, (_, i) => i),
    [n],
    dtype,
  )

/**
 * Random numbers from the Philox4x32-10 stream selected by `key` = u32[4] (seed lo, seed hi, offset lo,
 * offset hi): uniform in (0, 1) or standard normal. Every backend produces the same stream.
 */
export const random = (
  key: Tensor,
  shape: Shape,
  distribution: "uniform" | "normal",
  dtype: DType = "f32",
): Tensor<"random"> => {
  checkDims("random", shape)
  if (key.dtype !== "u32") dtypeError("random", "the key must be u32", key.dtype)
  if (key.shape.length !== 1 || key.shape[0] !== 4)
    shapeError("random", "the key must have shape [4]", key.shape)
  if (dtype !== "f32" && dtype !== "f16" && dtype !== "bf16") dtypeError("random", "draws floats only", dtype)
  return record("random", [key], { distribution }, [...shape], dtype)
}
