import {
  type DeviceBuffer,
  type DType,
  foreignBuffer,
  type HostTensor,
  type ProgramInputError,
  type Shape,
} from "@danlu/core"
import { Effect } from "effect"
import type * as Ort from "onnxruntime-node"
import { backendName, type OrtModule } from "../runtime/ortRuntime.js"

/**
 * A value held for ONNX Runtime: an `Ort.Tensor` over host memory, which the CPU provider reads in place.
 * A program that updates the state replaces `current` with the tensor the run returned.
 */
export class OnnxBuffer implements DeviceBuffer {
  readonly backend = backendName

  constructor(
    readonly dtype: DType,
    readonly shape: Shape,
    public current: Ort.Tensor,
  ) {}
}

/** The buffer itself when this backend made it; another backend's buffer is refused. */
export const ownBuffer = (value: DeviceBuffer, name: string): Effect.Effect<OnnxBuffer, ProgramInputError> =>
  value instanceof OnnxBuffer ? Effect.succeed(value) : Effect.fail(foreignBuffer(value, name, backendName))

const ortType = {
  f32: "float32",
  f16: "float16",
  bf16: "uint16",
  i32: "int32",
  u32: "uint32",
  bool: "bool",
} as const

/** Narrows f32 values that hold exact bf16 values back to their bit patterns. */
const f32ToBf16 = (values: Float32Array): Uint16Array => {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length)
  const bits = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) bits[i] = words[i]! >>> 16
  return bits
}

/**
 * A host tensor as an ONNX Runtime tensor. `copy: false` wraps the caller's array (for one run's
 * inputs); uploads copy, so later changes to the caller's array do not reach the device value.
 */
export const toOrtTensor = (ort: OrtModule, host: HostTensor, copy: boolean): Ort.Tensor => {
  const dims = [...host.shape]
  // bf16 goes in as its bits (the graph decodes them; see `sourceType`).
  if (host.dtype === "bf16") {
    const bits = host.data as Uint16Array
    return new ort.Tensor("uint16", copy ? bits.slice() : bits, dims)
  }
  const data = copy ? host.data.slice() : host.data
  return new ort.Tensor(ortType[host.dtype], data as Float32Array, dims)
}

/** An ONNX Runtime tensor as a host tensor; `copy: false` hands over the tensor's own array. */
export const toHostTensor = (tensor: Ort.Tensor, dtype: DType, shape: Shape, copy: boolean): HostTensor => {
  const data = tensor.data as HostTensor["data"]
  if (dtype === "bf16")
    return {
      dtype,
      shape,
      data: tensor.type === "uint16" ? (copy ? data.slice() : data) : f32ToBf16(data as Float32Array),
    } as HostTensor
  return { dtype, shape, data: copy ? data.slice() : data } as HostTensor
}
