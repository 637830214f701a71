import { openSession, type Session } from "@danlu/core"
import { layer } from "./backend/WebGpuBackend.js"
import type { WebGpuOptions } from "./device/acquireDevice.js"

/**
 * The WebGPU backend for callers without Effect: core's `Session` over this package's layer. Rejects with
 * `BackendUnavailable` where there is no adapter; `close()` releases programs, buffers and the device.
 */
export const createWebGpuBackend = (options: WebGpuOptions = {}): Promise<Session> =>
  openSession(layer(options))
