import { Backend } from "@danlu/core"
import { Layer } from "effect"
import type { OnnxBackendConfig } from "./config.js"
import { makeOnnxBackend } from "./onnxBackend.js"

/** The ONNX Runtime backend as core's `Backend`, configured (providers, fallback, threads, …). */
export const layerConfig = (config: OnnxBackendConfig): Layer.Layer<Backend> =>
  Layer.effect(Backend, makeOnnxBackend(config))

/** The ONNX Runtime backend on the CPU with ONNX Runtime's defaults. */
export const layer: Layer.Layer<Backend> = layerConfig({})
