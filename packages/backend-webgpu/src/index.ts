/**
 * @danlu/backend-webgpu — core graphs run as WGSL compute kernels on WebGPU through Dawn (the `webgpu`
 * package): AMD, Intel, Apple and NVIDIA GPUs, or the CPU through Mesa's lavapipe.
 */

export type { WebGpuOptions } from "./device/acquireDevice.js"
export { createWebGpuBackend } from "./promise.js"
export * as WebGpu from "./webGpu.js"
