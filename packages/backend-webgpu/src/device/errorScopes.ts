import { type BackendError, BackendExecutionError, DeviceOutOfMemory, lowerForMemory } from "@danlu/core"
import { Effect } from "effect"
import { backendName } from "./acquireDevice.js"
import type { GpuContext } from "./gpuContext.js"
import { lostOr } from "./lost.js"

/**
 * Pops a device error scope pushed before `effect`, turning a captured error into a typed one;
 * `bytes` is what `effect` allocates, where that is known.
 */
export const withErrorScopes = <A, E>(
  gpu: GpuContext,
  what: string,
  bytes: number | undefined,
  effect: Effect.Effect<A, E>,
): Effect.Effect<A, E | BackendError> =>
  Effect.gen(function* () {
    const { device } = gpu
    device.pushErrorScope("internal")
    device.pushErrorScope("out-of-memory")
    device.pushErrorScope("validation")
    const result = yield* Effect.exit(effect)
    const [validation, memory, internal] = yield* Effect.tryPromise({
      try: () => Promise.all([device.popErrorScope(), device.popErrorScope(), device.popErrorScope()]),
      catch: lostOr(gpu, what),
    })
    if (memory) {
      return yield* new DeviceOutOfMemory({
        backend: backendName,
        requestedBytes: bytes,
        detail: `${what}: ${memory.message}`,
        lower: lowerForMemory,
      })
    }
    if (validation ?? internal)
      return yield* new BackendExecutionError({
        backend: backendName,
        op: undefined,
        detail: `${what}: ${(validation ?? internal)!.message}`,
      })
    return yield* result
  })
