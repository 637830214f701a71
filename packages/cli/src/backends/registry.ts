import { homedir } from "node:os"
import { join } from "node:path"
import { type Backend, Reference } from "@danlu/core"
import type { Layer } from "effect"

/**
 * Where ONNX Runtime's optimised models are kept between runs, so a training program of a shape seen
 * before loads in a fraction of its compile time: `$XDG_CACHE_HOME/danlu/onnx` or `~/.cache/danlu/onnx`.
 */
export const onnxCacheDir = (): string =>
  join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "danlu", "onnx")

/**
 * Every backend the CLI knows, in order of preference. Each loads lazily, so a missing native module
 * only affects its own entry.
 */
export interface BackendEntry {
  readonly name: string
  readonly summary: string
  readonly load: () => Promise<Layer.Layer<Backend, unknown>>
}

export const backendEntries: ReadonlyArray<BackendEntry> = [
  {
    name: "reference",
    summary: "plain TypeScript in f64, the numerical truth; slow, needs nothing",
    load: async () => Reference.layer,
  },
  {
    name: "onnxruntime",
    summary:
      "whole graphs compiled to ONNX Runtime; the fast CPU engine (CUDA/TensorRT/WebGPU where installed)",
    load: async () => (await import("@danlu/backend-onnx")).layerConfig({ compileCacheDir: onnxCacheDir() }),
  },
  {
    name: "webgpu",
    summary: "WGSL kernels on Dawn: any GPU (Vulkan, Metal, D3D12), or the CPU through Mesa's lavapipe",
    load: async () => (await import("@danlu/backend-webgpu")).WebGpu.layer(),
  },
]
