import { asBackendError, type BackendError, DeviceLost } from "@danlu/core"
import { Effect } from "effect"
import { backendName } from "./acquireDevice.js"
import type { GpuContext } from "./gpuContext.js"

/** Dawn's loss messages may span lines; a typed error's reason is one. */
const lost = (reason: string) =>
  new DeviceLost({
    backend: backendName,
    reason: reason
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.length > 0)
      .join("; "),
  })

/** The typed error of a lost device, or undefined while it lives. */
export const lostError = (gpu: GpuContext): DeviceLost | undefined =>
  gpu.acquired.lostReason === undefined ? undefined : lost(gpu.acquired.lostReason)

/** Fails with `DeviceLost` once the device is gone: nothing made on it can be used again. */
export const ensureAlive = (gpu: GpuContext): Effect.Effect<void, DeviceLost> => {
  const error = lostError(gpu)
  return error === undefined ? Effect.void : Effect.fail(error)
}

/**
 * A failed device promise (a read back, an error scope) as a typed error: `DeviceLost` when the device
 * is gone — Dawn rejects pending mappings before `device.lost` resolves, so the message counts too —
 * and otherwise `BackendExecutionError` saying what was being done.
 */
export const lostOr =
  (gpu: GpuContext, what: string) =>
  (cause: unknown): BackendError => {
    const message = cause instanceof Error ? cause.message : String(cause)
    if (gpu.acquired.lostReason !== undefined) return lost(gpu.acquired.lostReason)
    if (/device (is |was )?(lost|destroyed)/i.test(message)) return lost(message)
    return asBackendError(cause, backendName, `${what} failed`)
  }
