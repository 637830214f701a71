import type { DType, HostTensor, Shape } from "@danlu/core"
import { sizeOf } from "@danlu/core"
import { MapMode, readbackUsage, tensorUsage } from "./usage.js"

/** Bytes per element on the device: `bool` is held as a u32 (WGSL has no 8-bit storage). */
export const deviceElementBytes: Readonly<Record<DType, number>> = {
  f32: 4,
  f16: 2,
  bf16: 2,
  i32: 4,
  u32: 4,
  bool: 4,
}

/** A buffer's size for a tensor: WebGPU copies and bindings want multiples of 4, and never 0. */
export const bufferBytes = (spec: { readonly dtype: DType; readonly shape: Shape }): number =>
  Math.max(4, Math.ceil((sizeOf(spec.shape) * deviceElementBytes[spec.dtype]) / 4) * 4)

export const createTensorBuffer = (device: GPUDevice, bytes: number, label: string): GPUBuffer =>
  device.createBuffer({ size: bytes, usage: tensorUsage, label })

export const createReadbackBuffer = (device: GPUDevice, bytes: number): GPUBuffer =>
  device.createBuffer({ size: bytes, usage: readbackUsage, label: "danlu readback" })

/** The bytes a host tensor occupies on the device, padded to a multiple of 4. */
export const deviceBytesOf = (tensor: HostTensor): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(bufferBytes(tensor))
  if (tensor.dtype === "bool") new Uint32Array(out.buffer).set(tensor.data)
  else out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength))
  return out
}

/** Reads a host tensor back out of device bytes (copied, so the mapping can be released). */
export const hostTensorOf = (bytes: ArrayBuffer, dtype: DType, shape: Shape): HostTensor => {
  const n = sizeOf(shape)
  switch (dtype) {
    case "f32":
      return { dtype, shape, data: new Float32Array(bytes.slice(0, n * 4)) }
    case "f16":
    case "bf16":
      return { dtype, shape, data: new Uint16Array(bytes.slice(0, n * 2)) }
    case "i32":
      return { dtype, shape, data: new Int32Array(bytes.slice(0, n * 4)) }
    case "u32":
      return { dtype, shape, data: new Uint32Array(bytes.slice(0, n * 4)) }
    case "bool":
      return { dtype, shape, data: Uint8Array.from(new Uint32Array(bytes, 0, n), (v) => (v ? 1 : 0)) }
  }
}

/** A storage buffer holding `bytes`, written at creation (params, constants, host inputs). */
export const createFilledBuffer = (device: GPUDevice, bytes: Uint8Array, label: string): GPUBuffer => {
  const size = Math.max(4, Math.ceil(bytes.byteLength / 4) * 4)
  const buffer = device.createBuffer({ size, usage: tensorUsage, mappedAtCreation: true, label })
  new Uint8Array(buffer.getMappedRange()).set(bytes)
  buffer.unmap()
  return buffer
}

/** Copies `bytes` of a buffer into fresh host memory through a staging buffer. */
export const readBuffer = async (
  device: GPUDevice,
  source: GPUBuffer,
  bytes: number,
): Promise<ArrayBuffer> => {
  const staging = createReadbackBuffer(device, bytes)
  try {
    const encoder = device.createCommandEncoder()
    encoder.copyBufferToBuffer(source, 0, staging, 0, bytes)
    device.queue.submit([encoder.finish()])
    await staging.mapAsync(MapMode.READ)
    return staging.getMappedRange().slice(0)
  } finally {
    staging.destroy()
  }
}
