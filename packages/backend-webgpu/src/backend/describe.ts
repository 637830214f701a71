import type { BackendInfo } from "@danlu/core"
import { backendName, wantedFeatures } from "../device/acquireDevice.js"
import type { GpuContext } from "../device/gpuContext.js"

const mib = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MiB`

/** What `danlu backends` prints for WebGPU: the adapter, the features danlu uses, the binding limit. */
export const describeContext = (gpu: GpuContext): BackendInfo => {
  const info = gpu.acquired.adapterInfo
  const name = [info.vendor, info.architecture, info.device].filter((s) => s).join(" ") || "WebGPU adapter"
  const features = wantedFeatures.map((f) => `${f} ${gpu.acquired.features.has(f) ? "yes" : "no"}`).join(", ")
  const detail = [
    info.description,
    gpu.acquired.isFallbackAdapter ? "software (fallback) adapter" : undefined,
    features,
    `max binding ${mib(gpu.maxBindingBytes)}`,
  ]
    .filter((s) => s)
    .join("; ")
  return { name: backendName, devices: [{ name, detail }], capabilities: gpu.capabilities }
}
