import type { Capabilities, DType } from "@danlu/core"
import { compositeOps } from "@danlu/core"
import type { LaunchContext } from "../kernels/launch.js"
import { fusedLaunchers } from "../kernels/table.js"
import type { AcquiredDevice } from "./acquireDevice.js"

/** A device with its pipeline cache and what it can run. */
export interface GpuContext {
  readonly acquired: AcquiredDevice
  readonly device: GPUDevice
  readonly launch: LaunchContext
  readonly capabilities: Capabilities
  /** The largest tensor one binding can hold, in bytes. */
  readonly maxBindingBytes: number
}

export const makeGpuContext = (acquired: AcquiredDevice): GpuContext => {
  const { device } = acquired
  const pipelines = new Map<string, GPUComputePipeline>()
  const launch: LaunchContext = {
    limits: device.limits,
    pipeline: (code) => {
      let pipeline = pipelines.get(code)
      if (!pipeline) {
        pipeline = device.createComputePipeline({
          layout: "auto",
          compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
        })
        pipelines.set(code, pipeline)
      }
      return pipeline
    },
  }
  const maxBindingBytes = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize)
  const dtypes: Array<DType> = [
    "f32",
    ...(acquired.features.has("shader-f16") ? (["f16"] as const) : []),
    "i32",
    "u32",
    "bool",
  ]
  return {
    acquired,
    device,
    launch,
    maxBindingBytes,
    capabilities: {
      dtypes,
      fused: compositeOps.filter((op) => fusedLaunchers[op] !== undefined),
      maxBufferBytes: maxBindingBytes,
    },
  }
}
