import type { DType } from "@danlu/core"

/** ONNX `TensorProto.DataType` codes used by the lowering (values from onnx.proto). */
export const ElemType = {
  FLOAT: 1,
  UINT8: 2,
  UINT16: 4,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const

export type ElemType = (typeof ElemType)[keyof typeof ElemType]

/**
 * How each core dtype lives inside a lowered graph. Every float dtype computes as FLOAT: 16-bit results
 * are rounded through a Cast pair after each op (see `emitGraph`), which is what the reference does and
 * what works on every ONNX Runtime provider whatever its 16-bit kernel coverage.
 */
export const computeType: Readonly<Record<DType, ElemType>> = {
  f32: ElemType.FLOAT,
  f16: ElemType.FLOAT,
  bf16: ElemType.FLOAT,
  i32: ElemType.INT32,
  u32: ElemType.UINT32,
  bool: ElemType.BOOL,
}

/**
 * How each core dtype leaves `run()`. onnxruntime-node's JS tensors have no bfloat16 type, so a bf16
 * output travels as FLOAT holding exact bf16 values (the host narrows them to their bits, losslessly).
 */
export const boundaryType: Readonly<Record<DType, ElemType>> = {
  f32: ElemType.FLOAT,
  f16: ElemType.FLOAT16,
  bf16: ElemType.FLOAT,
  i32: ElemType.INT32,
  u32: ElemType.UINT32,
  bool: ElemType.BOOL,
}

/**
 * How each core dtype enters `run()`: as `boundaryType`, except bf16, which comes in as its bits (UINT16,
 * 2 bytes an element, so bf16 weights take half the memory of f32) and is decoded in the graph.
 */
export const sourceType: Readonly<Record<DType, ElemType>> = { ...boundaryType, bf16: ElemType.UINT16 }

/** The 16-bit type a float dtype is rounded to after each op, if any. */
export const roundingType = (dtype: DType): ElemType | undefined =>
  dtype === "f16" ? ElemType.FLOAT16 : dtype === "bf16" ? ElemType.BFLOAT16 : undefined
