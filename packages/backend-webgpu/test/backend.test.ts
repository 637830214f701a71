import {
  Backend,
  BackendUnavailable,
  DeviceLost,
  DeviceOutOfMemory,
  type HostTensor,
  T,
  type Tensor,
} from "@danlu/core"
import { Cause, Effect, Exit, ManagedRuntime } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { makeWebGpuBackend } from "../src/backend/WebGpuBackend.js"
import { acquireDevice } from "../src/device/acquireDevice.js"
import { makeGpuContext } from "../src/device/gpuContext.js"
import { createWebGpuBackend, WebGpu } from "../src/index.js"
import { unavailableReason } from "./adapter.js"

const skip = await unavailableReason()

const f32 = (shape: Array<number>, values: Array<number>): HostTensor => ({
  dtype: "f32",
  shape,
  data: Float32Array.from(values),
})

describe.skipIf(skip !== undefined)("webgpu Promise API", () => {
  it("compiles, runs with state on the device, releases and closes", async () => {
    const backend = await createWebGpuBackend()
    try {
      const w = T.state("w", [3])
      const program = await backend.compile({ outputs: { y: T.mul(w, 2) }, updates: { w: T.add(w, 1) } })
      const weights = await backend.upload(f32([3], [1, 2, 3]))
      expect(Array.from((await program.run({}, { w: weights })).y!.data)).toEqual([2, 4, 6])
      expect(Array.from((await backend.download(weights)).data)).toEqual([2, 3, 4])
      await program.release()
    } finally {
      await backend.close()
    }
  })

  it("swaps two states in one run: each update reads the other's old value", async () => {
    const backend = await createWebGpuBackend()
    try {
      const [a, b] = [T.state("a", [2]), T.state("b", [2])]
      const program = await backend.compile({ outputs: { sum: T.add(a, b) }, updates: { a: b, b: a } })
      const bufferA = await backend.upload(f32([2], [1, 2]))
      const bufferB = await backend.upload(f32([2], [10, 20]))
      await program.run({}, { a: bufferA, b: bufferB })
      expect(Array.from((await backend.download(bufferA)).data)).toEqual([10, 20])
      expect(Array.from((await backend.download(bufferB)).data)).toEqual([1, 2])
    } finally {
      await backend.close()
    }
  })
})

describe.skipIf(skip !== undefined)("webgpu backend", () => {
  const runtime = ManagedRuntime.make(WebGpu.layer())
  afterAll(() => runtime.dispose())
  const run = <A, E>(effect: Effect.Effect<A, E, Backend>) => runtime.runPromise(effect)

  it("describes the adapter, the features danlu asks for and the binding limit", async () => {
    const info = await run(Effect.flatMap(Backend, (b) => b.describe))
    expect(info.name).toBe("webgpu")
    expect(info.devices).toHaveLength(1)
    expect(info.devices[0]!.detail).toMatch(/shader-f16 (yes|no), subgroups (yes|no); max binding \d+ MiB/)
    expect(info.capabilities.fused).toEqual([
      "softmax",
      "layerNorm",
      "groupNorm",
      "gelu",
      "geglu",
      "silu",
      "attention",
    ])
    expect(info.capabilities.dtypes).toContain("f32")
  })

  it("keeps state on the device and writes updates into it after every run", async () => {
    const result = await run(
      Effect.scoped(
        Effect.gen(function* () {
          const backend = yield* Backend
          const w = T.state("w", [3], "f32")
          const x = T.input("x", [3], "f32")
          const program = yield* backend.compile({ outputs: { y: T.mul(w, 2) }, updates: { w: T.add(w, x) } })
          const state = yield* backend.upload(f32([3], [1, 2, 3]))
          const outputs = []
          for (let step = 0; step < 3; step++) {
            outputs.push(
              Array.from((yield* program.run({ x: f32([3], [1, 10, 100]) }, { w: state })).y!.data),
            )
          }
          return { outputs, final: Array.from((yield* backend.download(state)).data) }
        }),
      ),
    )
    expect(result.outputs).toEqual([
      [2, 4, 6],
      [4, 24, 206],
      [6, 44, 406],
    ])
    expect(result.final).toEqual([4, 32, 303])
  })

  it("refuses a tensor larger than one binding, naming the limit", async () => {
    const exit = await runtime.runPromiseExit(
      Effect.scoped(
        Effect.gen(function* () {
          const backend = yield* Backend
          const limit = backend.capabilities.maxBufferBytes
          const big = T.input("x", [Math.ceil(limit / 4) + 1], "f32")
          return yield* backend.compile({ outputs: { y: T.mul(big, 2) } })
        }),
      ),
    )
    expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(
      /more than this device's maxStorageBufferBindingSize of \d+ bytes/,
    )
  })

  it("rejects a mis-shaped input with a ProgramInputError", async () => {
    const exit = await runtime.runPromiseExit(
      Effect.scoped(
        Effect.gen(function* () {
          const backend = yield* Backend
          const program = yield* backend.compile({ outputs: { y: T.neg(T.input("x", [2], "f32")) } })
          return yield* program.run({ x: f32([3], [1, 2, 3]) })
        }),
      ),
    )
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain(
      'program input "x": expected [2] f32, got [3] f32',
    )
  })

  it("builds pipelines and bind groups when compiling and on the first run, never again", async () => {
    const counts = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const gpu = makeGpuContext(yield* acquireDevice())
          const device = gpu.device
          let pipelines = 0
          let bindGroups = 0
          const createPipeline = device.createComputePipeline.bind(device)
          const createBindGroup = device.createBindGroup.bind(device)
          device.createComputePipeline = (d) => {
            pipelines++
            return createPipeline(d)
          }
          device.createBindGroup = (d) => {
            bindGroups++
            return createBindGroup(d)
          }
          const x = T.input("x", [4, 8], "f32")
          const y = T.softmax(T.matmul(x, T.transpose(x)), -1)
          const program = yield* makeWebGpuBackend(gpu).compile({ outputs: { y } })
          const afterCompile = { pipelines, bindGroups }
          const feed = {
            x: f32(
              [4, 8],
              Array.from({ length: 32 }, (_, i) => Math.sin(i)),
            ),
          }
          yield* program.run(feed)
          const afterFirst = { pipelines, bindGroups }
          yield* program.run(feed)
          yield* program.run(feed)
          return { afterCompile, afterFirst, afterThird: { pipelines, bindGroups } }
        }),
      ),
    )
    expect(counts.afterCompile.pipelines).toBeGreaterThan(0)
    expect(counts.afterFirst.pipelines).toBe(counts.afterCompile.pipelines)
    expect(counts.afterFirst.bindGroups).toBeGreaterThan(0)
    expect(counts.afterThird).toEqual(counts.afterFirst)
  })

  it("fails with DeviceLost once the device is lost, in runs, compiles, uploads and downloads", async () => {
    const failures = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const acquired = yield* acquireDevice()
          const backend = makeWebGpuBackend(makeGpuContext(acquired))
          const program = yield* backend.compile({ outputs: { y: T.neg(T.input("x", [2], "f32")) } })
          const weights = yield* backend.upload(f32([2], [1, 2]))
          acquired.device.destroy()
          // Right after destroy(), before device.lost resolves: the read back itself must fail typed.
          const download = yield* Effect.flip(backend.download(weights))
          yield* Effect.promise(() => acquired.device.lost)
          return [
            download,
            yield* Effect.flip(program.run({ x: f32([2], [1, 2]) })),
            yield* Effect.flip(backend.compile({ outputs: { y: T.exp(T.input("x", [3], "f32")) } })),
            yield* Effect.flip(backend.upload(f32([1], [0]))),
          ]
        }),
      ),
    )
    for (const error of failures) {
      expect(error).toBeInstanceOf(DeviceLost)
      expect(error.message).toMatch(/^webgpu lost its device: [^\n]+$/)
    }
    expect(failures.slice(1).map((e) => e.message)).toEqual(
      Array(3).fill("webgpu lost its device: the device was released"),
    )
  })

  it("keeps the params of every dispatch in a few shared buffers, and shares bind groups across programs", async () => {
    const counts = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const gpu = makeGpuContext(yield* acquireDevice())
          const device = gpu.device
          const made = { buffers: 0, bindGroups: 0 }
          const createBuffer = device.createBuffer.bind(device)
          const createBindGroup = device.createBindGroup.bind(device)
          device.createBuffer = (d) => {
            made.buffers++
            return createBuffer(d)
          }
          device.createBindGroup = (d) => {
            made.bindGroups++
            return createBindGroup(d)
          }
          const backend = makeWebGpuBackend(gpu)
          // A chain of 2·n dispatches; a chain one link longer is another program of the same buffers.
          const chain = (n: number) => {
            let t: Tensor = T.input("x", [16], "f32")
            for (let i = 0; i < n; i++) t = T.exp(T.neg(t))
            return { outputs: { y: t } }
          }
          const x = { x: f32([16], new Array<number>(16).fill(0.5)) }
          const first = yield* backend.compile(chain(300))
          const afterCompile = { ...made }
          const y = (yield* first.run(x)).y!.data[0]!
          const afterFirst = { ...made }
          yield* (yield* backend.compile(chain(301))).run(x)
          return { afterCompile, afterFirst, afterSecond: { ...made }, y }
        }),
      ),
    )
    let expected = 0.5
    for (let i = 0; i < 300; i++) expected = Math.exp(-expected)
    expect(counts.y).toBeCloseTo(expected, 5)
    // 600 dispatches of two kinds: one params slab, not 600 params buffers.
    expect(counts.afterCompile.buffers).toBe(1)
    expect(counts.afterFirst.bindGroups).toBeLessThan(20)
    expect(counts.afterSecond.bindGroups - counts.afterFirst.bindGroups).toBeLessThan(5)
  })

  it("reports an out-of-memory error scope as DeviceOutOfMemory with the bytes a run allocates", async () => {
    const error = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const gpu = makeGpuContext(yield* acquireDevice())
          const x = T.input("x", [4, 8], "f32")
          const program = yield* makeWebGpuBackend(gpu).compile({ outputs: { y: T.exp(T.mul(x, x)) } })
          const device = gpu.device
          const pop = device.popErrorScope.bind(device)
          const filters: Array<string> = []
          const pushed = device.pushErrorScope.bind(device)
          device.pushErrorScope = (filter) => {
            filters.push(filter)
            pushed(filter)
          }
          // Dawn cannot be made to run out of memory cheaply on lavapipe; stand in for the driver's report.
          device.popErrorScope = async () => {
            const real = await pop()
            return filters.pop() === "out-of-memory"
              ? ({ message: "buffer allocation failed" } as GPUError)
              : real
          }
          return yield* Effect.flip(program.run({ x: f32([4, 8], new Array<number>(32).fill(0)) }))
        }),
      ),
    )
    expect(error).toBeInstanceOf(DeviceOutOfMemory)
    // Activation slots of the input and the two computed nodes (the constant 2 is not a slot), f32 [4, 8] each.
    expect(error).toMatchObject({ requestedBytes: 3 * 4 * 8 * 4 })
    expect(error.message).toBe(
      "webgpu ran out of memory allocating 384 bytes: allocating activations: buffer allocation failed; lower the batch size or the resolution",
    )
  })

  it("runs programs of one device on one activation pool, as large as the largest program's slots", async () => {
    const { held, results } = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const gpu = makeGpuContext(yield* acquireDevice())
          const backend = makeWebGpuBackend(gpu)
          // One graph per "bucket": the same ops on inputs of 64 and 32 elements.
          const program = (n: number) => {
            const x = T.input("x", [n], "f32")
            return backend.compile({ outputs: { y: T.sum(T.exp(T.mul(x, x))) } })
          }
          const large = yield* program(64)
          const small = yield* program(32)
          const values = (n: number) => Array.from({ length: n }, (_, i) => (i - n / 2) / n)
          const results: Array<number> = []
          for (const [p, n] of [
            [large, 64],
            [small, 32],
            [large, 64],
          ] as const) {
            const out = yield* p.run({ x: f32([n], values(n)) })
            results.push(out.y!.data[0]!)
          }
          return { held: backend.activations.heldBytes(), results }
        }),
      ),
    )
    // x, x·x and exp(x·x) of the large program, f32, plus its 4-byte sum: the small one adds nothing.
    expect(held).toBe(3 * 64 * 4 + 4)
    const expected = (n: number) =>
      Array.from({ length: n }, (_, i) => Math.exp(((i - n / 2) / n) ** 2)).reduce((a, b) => a + b, 0)
    expect(results[0]).toBeCloseTo(expected(64), 3)
    expect(results[1]).toBeCloseTo(expected(32), 3)
    expect(results[2]).toBe(results[0])
  })

  it("shares a program among graphs of one shape and frees it on release", async () => {
    const identities = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const backend = makeWebGpuBackend(makeGpuContext(yield* acquireDevice()))
          const graph = () => ({ outputs: { y: T.neg(T.input("x", [2], "f32")) } })
          const first = yield* Effect.scoped(backend.compile(graph()))
          const cached = yield* backend.compile(graph())
          const out = yield* cached.run({ x: f32([2], [1, 2]) })
          yield* cached.release!
          const fresh = yield* backend.compile(graph())
          return { cached: cached.analyzed === first.analyzed, fresh: fresh.analyzed === first.analyzed, out }
        }),
      ),
    )
    expect(identities).toMatchObject({ cached: true, fresh: false })
    expect(Array.from(identities.out.y!.data)).toEqual([-1, -2])
  })
})

describe("webgpu without an adapter", () => {
  it("fails with BackendUnavailable and one line saying what is missing", async () => {
    const exit = await Effect.runPromiseExit(
      Effect.scoped(acquireDevice({ dawnOptions: ["adapter=no such adapter"] })),
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    expect(error).toBeInstanceOf(BackendUnavailable)
    expect((error as BackendUnavailable).message).toMatch(/^webgpu is unavailable: [^\n]+$/)
  })
})
