import { Effect, type Scope, Semaphore } from "effect"
import type { KernelDevice } from "./kernelDevice.js"
import type { SlotSpec } from "./plan.js"

/** Where each of a program's slots sits in the pool: its bucket (class or pool key) and rank there. */
export interface PoolLease {
  readonly slots: ReadonlyArray<number>
  readonly places: ReadonlyArray<{ readonly bucket: string; readonly rank: number }>
  readonly specs: ReadonlyArray<SlotSpec>
  /** Bytes of every leased slot: what a run of the program needs allocated. */
  readonly bytes: number
}

/**
 * The activation buffers every program of one backend shares. Within a bucket (a size class, or an
 * exact pool key) a program's slots take the pool's buffers in rank order — its largest slot the largest
 * buffer — so programs of similar graphs (one per aspect bucket) need about the largest one's memory,
 * not the sum. Runs take turns on the buffers.
 */
export interface ActivationPool<Buf> {
  /** The places of a program's activation slots, computed once at compile time. */
  lease(slots: ReadonlyArray<{ readonly slot: number; readonly spec: SlotSpec }>): PoolLease
  /** Grows buffers that are too small for `lease` and returns the buffer of each of its slots. */
  reserve(lease: PoolLease): ReadonlyArray<Buf>
  /** One run at a time holds the buffers. */
  readonly turn: Semaphore.Semaphore
  /** A program uses the pool for the scope; when the last one goes, the pool frees its buffers. */
  readonly join: Effect.Effect<void, never, Scope.Scope>
  /** Bytes the pool holds now. */
  heldBytes(): number
}

interface Held<Buf> {
  readonly buffer: Buf
  readonly spec: SlotSpec
  readonly size: number
}

export const makeActivationPool = <Buf>(
  device: Pick<KernelDevice<Buf>, "sizeClasses" | "poolKey" | "bytesOf" | "allocate" | "release">,
): ActivationPool<Buf> => {
  const classes = device.sizeClasses
  const bucketOf = (spec: SlotSpec) => (classes ? classes.classOf(spec) : device.poolKey(spec))
  const sizeOf = (spec: SlotSpec) => (classes ? classes.sizeOf(spec) : device.bytesOf(spec))
  const buckets = new Map<string, Array<Held<Buf>>>()
  const turn = Semaphore.makeUnsafe(1)
  let programs = 0

  const freeAll = () => {
    for (const held of buckets.values()) for (const { buffer } of held) device.release?.(buffer)
    buckets.clear()
  }

  return {
    turn,
    lease: (slots) => {
      const largestFirst = [...slots].sort((a, b) => sizeOf(b.spec) - sizeOf(a.spec))
      const ranks = new Map<string, number>()
      const places = largestFirst.map(({ spec }) => {
        const bucket = bucketOf(spec)
        const rank = ranks.get(bucket) ?? 0
        ranks.set(bucket, rank + 1)
        return { bucket, rank }
      })
      return {
        slots: largestFirst.map(({ slot }) => slot),
        places,
        specs: largestFirst.map(({ spec }) => spec),
        bytes: largestFirst.reduce((sum, { spec }) => sum + device.bytesOf(spec), 0),
      }
    },
    reserve: ({ places, specs }) =>
      places.map(({ bucket, rank }, i) => {
        const spec = specs[i]!
        const held = buckets.get(bucket) ?? []
        buckets.set(bucket, held)
        const current = held[rank]
        if (current !== undefined && current.size >= sizeOf(spec)) return current.buffer
        // Work already recorded on the old buffer completes before the device frees it.
        if (current !== undefined) device.release?.(current.buffer)
        const grown = { buffer: device.allocate(spec), spec, size: sizeOf(spec) }
        held[rank] = grown
        return grown.buffer
      }),
    join: Effect.acquireRelease(
      Effect.sync(() => {
        programs++
      }),
      () =>
        turn.withPermits(1)(
          Effect.sync(() => {
            programs--
            if (programs === 0) freeAll()
          }),
        ),
    ),
    heldBytes: () => {
      let total = 0
      for (const held of buckets.values()) for (const { spec } of held) total += device.bytesOf(spec)
      return total
    },
  }
}
