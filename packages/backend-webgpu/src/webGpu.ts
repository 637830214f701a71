import type { BackendInfo } from "@danlu/core"
import { Effect } from "effect"
import { describeContext } from "./backend/describe.js"
import { acquireDevice, type WebGpuOptions } from "./device/acquireDevice.js"
import { makeGpuContext } from "./device/gpuContext.js"

export { layer } from "./backend/WebGpuBackend.js"

/** Acquires the adapter, describes it and releases it again (`danlu backends`). */
export const describe = (options: WebGpuOptions = {}) =>
  Effect.scoped(Effect.map(acquireDevice(options), (acquired) => describeContext(makeGpuContext(acquired))))

/** Promise form of `describe` for callers without Effect; rejects with `BackendUnavailable`. */
export const describePromise = (options: WebGpuOptions = {}): Promise<BackendInfo> =>
  Effect.runPromise(describe(options))
