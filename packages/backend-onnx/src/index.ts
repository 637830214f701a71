/**
 * @danlu/backend-onnx — compiles whole danlu graphs (forward, backward, optimizer update) to one ONNX
 * model and one ONNX Runtime session each. CPU by default; CUDA, TensorRT or WebGPU where installed.
 */
export type { OnnxBackendConfig } from "./backend/config.js"
export { layer, layerConfig } from "./backend/layer.js"
export { makeOnnxBackend } from "./backend/onnxBackend.js"
export { type LoweredGraph, lowerGraph, type ModelBinding } from "./lower/lowerGraph.js"
export { opsetVersion } from "./onnx/modelBuilder.js"
export { OnnxBuffer } from "./program/deviceBuffer.js"
export { createOnnxBackend } from "./promise.js"
export type { ExecutionProvider } from "./runtime/executionProviders.js"
export { backendName } from "./runtime/ortRuntime.js"
