/**
 * Element types. Floating types are what models compute in; `i32`/`u32` index and count; `bool` masks.
 * f16 and bf16 travel between host and device as raw 16-bit patterns (`Uint16Array`).
 */
export type DType = "f32" | "f16" | "bf16" | "i32" | "u32" | "bool"

export const dtypes: ReadonlyArray<DType> = ["f32", "f16", "bf16", "i32", "u32", "bool"]

export const isFloat = (dtype: DType): dtype is "f32" | "f16" | "bf16" =>
  dtype === "f32" || dtype === "f16" || dtype === "bf16"

export const byteSize: Readonly<Record<DType, number>> = { f32: 4, f16: 2, bf16: 2, i32: 4, u32: 4, bool: 1 }

/** The typed array that holds a dtype's elements on the host. */
export interface HostArrayOf {
  f32: Float32Array
  f16: Uint16Array
  bf16: Uint16Array
  i32: Int32Array
  u32: Uint32Array
  bool: Uint8Array
}

export type HostArray = HostArrayOf[DType]
