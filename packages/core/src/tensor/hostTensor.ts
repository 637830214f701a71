import type { DType, HostArrayOf } from "./dtype.js"
import { type Shape, sizeOf } from "./shape.js"

/** Tensor data in host memory: what goes into a program and comes out of it. */
export interface HostTensor<D extends DType = DType> {
  readonly dtype: D
  readonly shape: Shape
  readonly data: HostArrayOf[D]
}

const arrayConstructors = {
  f32: Float32Array,
  f16: Uint16Array,
  bf16: Uint16Array,
  i32: Int32Array,
  u32: Uint32Array,
  bool: Uint8Array,
} as const

/** A zero-filled host tensor. */
export const zerosHost = <D extends DType>(dtype: D, shape: Shape): HostTensor<D> => ({
  dtype,
  shape,
  data: new arrayConstructors[dtype](sizeOf(shape)) as HostArrayOf[D],
})

/** Wraps existing data; the data length must match the shape. */
export const hostTensor = <D extends DType>(dtype: D, shape: Shape, data: HostArrayOf[D]): HostTensor<D> => {
  if (data.length !== sizeOf(shape)) {
    throw new RangeError(`hostTensor: ${data.length} elements do not fill shape [${shape.join(",")}]`)
  }
  return { dtype, shape, data }
}
