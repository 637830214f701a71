import type { SizeClasses } from "../backend/plan.js"
import type { DType } from "../tensor/dtype.js"
import {
  fromBF16Bits,
  fromF16Bits,
  roundToBF16,
  roundToF16,
  toBF16Bits,
  toF16Bits,
} from "../tensor/halfFloat.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import { type Shape, sizeOf } from "../tensor/shape.js"

/**
 * Reference storage: floats of every width live in f64 arrays, rounded to their dtype whenever a kernel
 * stores them, so the reference computes each op exactly and then rounds once, as an ideal device would.
 */
export type RefArray = Float64Array | Int32Array | Uint32Array | Uint8Array

/** Which reference arrays hold each other's tensors: every float width lives in an f64 array. */
export const storageClass = (dtype: DType): string =>
  dtype === "i32" || dtype === "u32" || dtype === "bool" ? dtype : "float"

/** Reference arrays of one storage class hold any tensor that fits, through a view of its length. */
export const referenceSizeClasses: SizeClasses<RefArray> = {
  classOf: ({ dtype }) => storageClass(dtype),
  sizeOf: ({ shape }) => sizeOf(shape),
  view: (buffer, { shape }) => buffer.subarray(0, sizeOf(shape)),
}

export const allocateRef = (dtype: DType, shape: Shape): RefArray => {
  const n = sizeOf(shape)
  switch (dtype) {
    case "i32":
      return new Int32Array(n)
    case "u32":
      return new Uint32Array(n)
    case "bool":
      return new Uint8Array(n)
    default:
      return new Float64Array(n)
  }
}

/** Rounds an f64 array in place to the precision of a float dtype. */
export const roundTo = (data: RefArray, dtype: DType): void => {
  if (!(data instanceof Float64Array)) return
  const round =
    dtype === "f32" ? Math.fround : dtype === "f16" ? roundToF16 : dtype === "bf16" ? roundToBF16 : undefined
  if (!round) return
  for (let i = 0; i < data.length; i++) data[i] = round(data[i]!)
}

/** Bytes a reference array of a tensor takes: floats as f64, indices as 32-bit, bools as bytes. */
export const refBytes = (dtype: DType, shape: Shape): number =>
  sizeOf(shape) * (storageClass(dtype) === "float" ? 8 : dtype === "bool" ? 1 : 4)

/** Writes host data into a reference array of its length (16-bit floats widened to their values). */
export const refWriteHost = (out: RefArray, tensor: HostTensor): void => {
  const src = tensor.data
  if (tensor.dtype === "f16") for (let i = 0; i < out.length; i++) out[i] = fromF16Bits(src[i]!)
  else if (tensor.dtype === "bf16") for (let i = 0; i < out.length; i++) out[i] = fromBF16Bits(src[i]!)
  else out.set(src)
}

export const refFromHost = (tensor: HostTensor): RefArray => {
  const out = allocateRef(tensor.dtype, tensor.shape)
  refWriteHost(out, tensor)
  return out
}

export const refToHost = (data: RefArray, dtype: DType, shape: Shape): HostTensor => {
  switch (dtype) {
    case "f32":
      return { dtype, shape, data: Float32Array.from(data) }
    case "f16":
      return { dtype, shape, data: Uint16Array.from(data, toF16Bits) }
    case "bf16":
      return { dtype, shape, data: Uint16Array.from(data, toBF16Bits) }
    case "i32":
      return { dtype, shape, data: Int32Array.from(data) }
    case "u32":
      return { dtype, shape, data: Uint32Array.from(data) }
    case "bool":
      return { dtype, shape, data: Uint8Array.from(data, (v) => (v ? 1 : 0)) }
  }
}
