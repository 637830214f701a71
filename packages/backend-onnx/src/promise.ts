import { openSession, type Session } from "@danlu/core"
import type { OnnxBackendConfig } from "./backend/config.js"
import { layerConfig } from "./backend/layer.js"

/**
 * The ONNX Runtime backend for callers without Effect: core's `Session` over this package's layer.
 * Nothing native loads until the first call that needs it.
 */
export const createOnnxBackend = (config: OnnxBackendConfig = {}): Promise<Session> =>
  openSession(layerConfig(config))
