import type { DType, HostArrayOf } from "../tensor/dtype.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import { formatShape, type Shape, sizeOf } from "../tensor/shape.js"

/**
 * Element types as checkpoint files store them, named as safetensors names them. Files carry more types than
 * the compute dtypes of `tensor/dtype.ts` (F64 noise schedules, I64 position ids), so a stored tensor keeps
 * its own type and raw bytes, and `toHostTensor` converts on request.
 */
export type StorageDType =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U8"
  | "U16"
  | "U32"
  | "BOOL"

export const storageDTypes: ReadonlyArray<StorageDType> = [
  "F64",
  "F32",
  "F16",
  "BF16",
  "I64",
  "I32",
  "I16",
  "I8",
  "U8",
  "U16",
  "U32",
  "BOOL",
]

export const storageByteSize: Readonly<Record<StorageDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  U16: 2,
  U32: 4,
  BOOL: 1,
}

export const isStorageDType = (name: string): name is StorageDType =>
  (storageDTypes as ReadonlyArray<string>).includes(name)

/** Name, type and shape of a tensor in a file, known before any of its data is read. */
export interface TensorInfo {
  readonly name: string
  readonly dtype: StorageDType
  readonly shape: Shape
}

export const tensorByteLength = (info: Pick<TensorInfo, "dtype" | "shape">): number =>
  sizeOf(info.shape) * storageByteSize[info.dtype]

/** A tensor as stored: row-major, contiguous, little-endian bytes. */
export interface StoredTensor {
  readonly dtype: StorageDType
  readonly shape: Shape
  readonly bytes: Uint8Array
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** The bytes as a typed array of the given alignment, copying only when the buffer is misaligned. */
const aligned = (bytes: Uint8Array, alignment: number): ArrayBuffer => {
  if (!littleEndianHost) throw new RangeError("checkpoint tensors are little-endian; this host is big-endian")
  if (bytes.byteOffset % alignment === 0 && bytes.buffer instanceof ArrayBuffer) {
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? bytes.buffer
      : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  }
  return bytes.slice().buffer
}

const hostDTypeOf: Readonly<Record<StorageDType, DType>> = {
  F64: "f32",
  F32: "f32",
  F16: "f16",
  BF16: "bf16",
  I64: "i32",
  I32: "i32",
  I16: "i32",
  I8: "i32",
  U8: "i32",
  U16: "i32",
  U32: "u32",
  BOOL: "bool",
}

/** The host dtype `toHostTensor` gives for a stored type. */
export const hostDTypeFor = (dtype: StorageDType): DType => hostDTypeOf[dtype]

/**
 * Converts a stored tensor to a host tensor. F32/F16/BF16/I32/U32/BOOL keep their bits; F64 is rounded to f32;
 * I8/I16/U8/U16 widen to i32; I64 narrows to i32 and throws a RangeError naming the value if one does not fit.
 * Callers that need F64/I64 exactly keep the `StoredTensor` bytes.
 */
export const toHostTensor = (stored: StoredTensor): HostTensor => {
  const count = sizeOf(stored.shape)
  const expected = count * storageByteSize[stored.dtype]
  if (stored.bytes.length !== expected) {
    throw new RangeError(
      `stored ${stored.dtype} tensor ${formatShape(stored.shape)} needs ${expected} bytes, got ${stored.bytes.length}`,
    )
  }
  const { bytes, shape } = stored
  const widen = (source: ArrayLike<number>): Int32Array => Int32Array.from(source)
  const host = <D extends DType>(dtype: D, data: HostArrayOf[D]): HostTensor => ({ dtype, shape, data })
  switch (stored.dtype) {
    case "F32":
      return host("f32", new Float32Array(aligned(bytes, 4)))
    case "F64":
      return host("f32", Float32Array.from(new Float64Array(aligned(bytes, 8))))
    case "F16":
      return host("f16", new Uint16Array(aligned(bytes, 2)))
    case "BF16":
      return host("bf16", new Uint16Array(aligned(bytes, 2)))
    case "I32":
      return host("i32", new Int32Array(aligned(bytes, 4)))
    case "U32":
      return host("u32", new Uint32Array(aligned(bytes, 4)))
    case "I16":
      return host("i32", widen(new Int16Array(aligned(bytes, 2))))
    case "U16":
      return host("i32", widen(new Uint16Array(aligned(bytes, 2))))
    case "I8":
      return host("i32", widen(new Int8Array(aligned(bytes, 1))))
    case "U8":
      return host("i32", widen(bytes))
    case "BOOL":
      return host("bool", bytes.slice())
    case "I64": {
      const wide = new BigInt64Array(aligned(bytes, 8))
      const out = new Int32Array(count)
      for (let i = 0; i < count; i++) {
        const value = wide[i]!
        if (value > 2147483647n || value < -2147483648n) {
          throw new RangeError(`I64 value ${value} at index ${i} does not fit in i32`)
        }
        out[i] = Number(value)
      }
      return host("i32", out)
    }
  }
}

const storageDTypeOfHost: Readonly<Record<DType, StorageDType>> = {
  f32: "F32",
  f16: "F16",
  bf16: "BF16",
  i32: "I32",
  u32: "U32",
  bool: "BOOL",
}

/** The stored form of a host tensor (same bits; f16/bf16 stay 16-bit). */
export const fromHostTensor = (tensor: HostTensor): StoredTensor => {
  if (!littleEndianHost) throw new RangeError("checkpoint tensors are little-endian; this host is big-endian")
  const data = tensor.data
  return {
    dtype: storageDTypeOfHost[tensor.dtype],
    shape: tensor.shape,
    bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  }
}
