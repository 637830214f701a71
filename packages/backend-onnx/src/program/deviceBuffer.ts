import type { DeviceBuffer, DType, HostTensor, Shape } from "@danlu/core"
import type * as Ort from "onnxruntime-node"
import { backendName, type OrtModule } from "../runtime/ortRuntime.js"

/**
 * A value held for ONNX Runtime: an `Ort.Tensor` over host memory (the CPU provider reads inputs in place).
 * State that a program updates is double-buffered: a run reads `current` and writes the update straight
 * into `spare` (a preallocated output), then the two swap — no new JS object or copy per tensor per step.
 */
export class OnnxBuffer implements DeviceBuffer {
  readonly backend = backendName
  spare: Ort.Tensor | undefined

  constructor(
    readonly dtype: DType,
    readonly shape: Shape,
    public current: Ort.Tensor,
  ) {}

  /** Makes the spare the current value after a run wrote the update into it. */
  swap(): void {
    const previous = this.current
    this.current = this.spare!
    this.spare = previous
  }
}

const ortType = {
  f32: "float32",
  f16: "float16",
  bf16: "float32",
  i32: "int32",
  u32: "uint32",
  bool: "bool",
} as const

/** Widens bf16 bit patterns to the f32 values they encode (exact). */
const bf16ToF32 = (bits: Uint16Array): Float32Array => {
  const words = new Uint32Array(bits.length)
  for (let i = 0; i < bits.length; i++) words[i] = bits[i]! << 16
  return new Float32Array(words.buffer)
}

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
  if (host.dtype === "bf16") return new ort.Tensor("float32", bf16ToF32(host.data as Uint16Array), dims)
  const data = copy ? host.data.slice() : host.data
  return new ort.Tensor(ortType[host.dtype], data as Float32Array, dims)
}

/** An ONNX Runtime tensor as a host tensor; `copy: false` hands over the tensor's own array. */
export const toHostTensor = (tensor: Ort.Tensor, dtype: DType, shape: Shape, copy: boolean): HostTensor => {
  const data = tensor.data as HostTensor["data"]
  if (dtype === "bf16") return { dtype, shape, data: f32ToBf16(data as Float32Array) }
  return { dtype, shape, data: copy ? data.slice() : data } as HostTensor
}

/** A zero tensor of the layout a dtype has at the `run()` boundary, to be written by ONNX Runtime. */
export const allocateOrtTensor = (ort: OrtModule, dtype: DType, shape: Shape): Ort.Tensor => {
  const size = shape.reduce((a, b) => a * b, 1)
  const arrays = {
    f32: Float32Array,
    f16: Uint16Array,
    bf16: Float32Array,
    i32: Int32Array,
    u32: Uint32Array,
    bool: Uint8Array,
  }
  return new ort.Tensor(ortType[dtype], new arrays[dtype](size) as Float32Array, [...shape])
}
