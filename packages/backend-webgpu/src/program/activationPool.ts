import { Semaphore } from "effect"
import type { GpuContext } from "../device/gpuContext.js"
import { createTensorBuffer } from "../device/storage.js"

/**
 * The activation buffers every program of one device shares. A run takes them in rank order — its
 * largest slot the largest buffer — so programs of similar graphs (one per aspect bucket) need about
 * the largest one's memory, not the sum. Runs take turns; the buffers live as long as the device.
 */
export interface ActivationPool {
  /** Makes buffer `i` at least `bytes[i]` long (largest first); the bytes newly allocated. */
  readonly reserve: (bytes: ReadonlyArray<number>) => number
  /** The pool's buffers, valid until the next `reserve`. */
  readonly buffers: ReadonlyArray<GPUBuffer>
  /** One run at a time holds the buffers. */
  readonly turn: Semaphore.Semaphore
  /** Bytes the pool holds now. */
  readonly heldBytes: () => number
}

const pools = new WeakMap<GpuContext, ActivationPool>()

export const activationPoolOf = (gpu: GpuContext): ActivationPool => {
  const known = pools.get(gpu)
  if (known) return known
  const buffers: Array<GPUBuffer> = []
  const pool: ActivationPool = {
    buffers,
    turn: Semaphore.makeUnsafe(1),
    reserve: (bytes) => {
      let added = 0
      bytes.forEach((size, i) => {
        const held = buffers[i]
        if (held !== undefined && held.size >= size) return
        // The old buffer's queued work completes before the device frees it.
        held?.destroy()
        buffers[i] = createTensorBuffer(gpu.device, size, `activations ${i}`)
        added += size - (held?.size ?? 0)
      })
      return added
    },
    heldBytes: () => buffers.reduce((sum, buffer) => sum + buffer.size, 0),
  }
  pools.set(gpu, pool)
  return pool
}
