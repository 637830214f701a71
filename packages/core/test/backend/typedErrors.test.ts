import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  type BackendShape,
  DeviceLost,
  DeviceOutOfMemory,
  type Graph,
  hostTensor,
  type KernelDevice,
  lowerForMemory,
  makeKernelBackend,
  Reference,
  T,
} from "../../src/index.js"
import type { RefArray } from "../../src/reference/storage.js"

const failureOf = <A, E>(backend: BackendShape, use: (b: BackendShape) => Effect.Effect<A, E, never>) =>
  Effect.runPromise(Effect.flip(use(backend)))

const compileFailure = (graph: Graph) =>
  failureOf(Reference.makeReferenceBackend(), (b) => Effect.scoped(b.compile(graph)))

/** The reference device with one method replaced, to stand in for a device that fails. */
const failingBackend = (override: Partial<KernelDevice<RefArray>>): BackendShape => {
  const device = { ...Reference.referenceDevice, ...override }
  return makeKernelBackend(device, Reference.referenceCapabilities, Effect.die("not described"))
}

const doubled = (): Graph => {
  const x = T.input("x", [2])
  return { outputs: { y: T.add(x, x) } }
}
const runDoubled = (backend: BackendShape) =>
  Effect.scoped(
    Effect.flatMap(backend.compile(doubled()), (p) =>
      p.run({ x: hostTensor("f32", [2], Float32Array.of(1, 2)) }),
    ),
  )

describe("typed errors cross compile and run", () => {
  it("a mis-shaped update arrives as a ShapeError with both shapes", async () => {
    const w = T.state("w", [2])
    const error = await compileFailure({ outputs: { y: w }, updates: { w: T.input("u", [3]) } })
    expect(error._tag).toBe("ShapeError")
    expect(error).toMatchObject({ op: "graph", shapes: [[3], [2]] })
    expect(error.message).toBe('[graph] update "w" is [3] but the state is [2] (shapes [3], [2])')
  })

  it("an update of another dtype arrives as a DTypeError with both dtypes", async () => {
    const w = T.state("w", [2])
    const error = await compileFailure({ outputs: { y: w }, updates: { w: T.input("u", [2], "f16") } })
    expect(error).toMatchObject({ _tag: "DTypeError", dtypes: ["f16", "f32"] })
  })

  it("an update without its state names the update's shape", async () => {
    const error = await compileFailure({
      outputs: { y: T.input("x", [1]) },
      updates: { w: T.input("u", [4]) },
    })
    expect(error).toMatchObject({ _tag: "ShapeError", shapes: [[4]] })
  })

  it("a lost device while reading back is DeviceLost, not a defect", async () => {
    const lost = new DeviceLost({ backend: "reference", reason: "the driver was reset" })
    const error = await failureOf(failingBackend({ toHost: () => Promise.reject(lost) }), runDoubled)
    expect(error).toBe(lost)
    expect(error.message).toBe("reference lost its device: the driver was reset")
  })

  it("any other read-back failure is a BackendExecutionError with its message", async () => {
    const error = await failureOf(
      failingBackend({ toHost: () => Promise.reject(new Error("mapping failed")) }),
      runDoubled,
    )
    expect(error).toMatchObject({
      _tag: "BackendExecutionError",
      detail: "reading a buffer back: mapping failed",
    })
  })

  it("an allocation that does not fit arrives as DeviceOutOfMemory with the bytes", async () => {
    const error = await failureOf(
      failingBackend({
        allocate: ({ shape }) => {
          throw new DeviceOutOfMemory({
            backend: "reference",
            requestedBytes: shape.reduce((a, b) => a * b, 8),
            detail: "the arena is full",
            lower: lowerForMemory,
          })
        },
      }),
      runDoubled,
    )
    expect(error).toMatchObject({ _tag: "DeviceOutOfMemory", requestedBytes: 16 })
    expect(error.message).toBe(
      "reference ran out of memory allocating 16 bytes: the arena is full; lower the batch size or the resolution",
    )
  })

  it("an out-of-memory error of unknown size leaves the bytes out", () => {
    const error = new DeviceOutOfMemory({
      backend: "webgpu",
      requestedBytes: undefined,
      detail: "running the program",
      lower: lowerForMemory,
    })
    expect(error.message).toBe(
      "webgpu ran out of memory: running the program; lower the batch size or the resolution",
    )
  })
})
