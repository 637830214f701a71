import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  analyzeGraph,
  grad,
  graphKey,
  graphSignature,
  makeKernelBackend,
  planExecution,
  Reference,
  T,
  type Tensor,
} from "../../src/index.js"

describe("recording checks shapes and dtypes", () => {
  it("names the op and the shapes", () => {
    expect(() => T.matmul(T.input("a", [2, 3]), T.input("b", [4, 5]))).toThrow(
      "[matmul] inner dimensions 3 and 4 differ (shapes [2,3], [4,5])",
    )
    expect(() => T.add(T.input("a", [2, 3]), T.input("b", [4]))).toThrow("[add] shapes do not broadcast")
    expect(() => T.add(T.input("a", [2], "f32"), T.input("b", [2], "f16"))).toThrow(
      "[add] inputs must share one dtype",
    )
  })
  it("refuses empty reductions and bad axes", () => {
    expect(() => T.sum(T.input("a", [2, 0]), 1)).toThrow("cannot reduce over empty axis 1")
    expect(() => T.sum(T.input("a", [2, 3]), 2)).toThrow("axis 2 is out of range for rank 2")
  })
  it("refuses convolution geometry no device can run", () => {
    const [x, w] = [T.input("x", [1, 1, 3, 3]), T.input("w", [1, 1, 1, 1])]
    for (const options of [{ stride: 0 }, { dilation: 0 }, { padding: -1 }, { stride: 1.5 }]) {
      expect(() => T.conv2d(x, w, options)).toThrow("stride and dilation must be integers ≥ 1")
    }
  })
  it("infers attention's shape from the broadcast batch and refuses a mask that enlarges the scores", () => {
    const [q, k, v] = [T.input("q", [1, 3, 4]), T.input("k", [2, 5, 4]), T.input("v", [2, 5, 6])]
    expect(T.attention(q, k, v).shape).toEqual([2, 3, 6])
    expect(T.attention(q, k, v, { mask: T.input("m", [3, 5]) }).shape).toEqual([2, 3, 6])
    expect(() => T.attention(q, k, v, { mask: T.input("m", [3, 2, 3, 5]) })).toThrow(
      "[attention] the mask must broadcast to the scores",
    )
    expect(() => T.attention(q, k, v, { mask: T.input("m", [4, 5]) })).toThrow(
      "[attention] shapes do not broadcast",
    )
  })
  it("infers shapes", () => {
    const x = T.input("x", [2, 1, 4])
    expect(T.add(x, T.input("y", [3, 1])).shape).toEqual([2, 3, 4])
    expect(T.reshape(x, [-1, 2]).shape).toEqual([4, 2])
    expect(
      T.conv2d(T.input("i", [1, 3, 9, 9]), T.input("w", [8, 3, 3, 3]), { stride: 2, padding: 1 }).shape,
    ).toEqual([1, 8, 5, 5])
    expect(T.sum(x, [0, 2], true).shape).toEqual([1, 1, 1])
  })
})

describe("graphs", () => {
  it("refuses an update of a state the graph does not read", () => {
    const w = T.state("w", [2])
    expect(() => analyzeGraph({ outputs: { y: w }, updates: { v: w } })).toThrow('update "v" has no state')
  })
  it("gives equal keys to equal structures built twice", () => {
    const build = () => ({ outputs: { y: T.sum(T.mul(T.input("x", [3]), 2)) } })
    expect(graphKey(build())).toBe(graphKey(build()))
    expect(graphKey(build())).not.toBe(graphKey({ outputs: { y: T.sum(T.mul(T.input("x", [4]), 2)) } }))
    const graph = build()
    expect(graphSignature(graph)).toBe(graphSignature(build()))
    expect(graphSignature(graph)).toBe(graphSignature(graph))
    expect(graphSignature(graph)).not.toBe(graphSignature({ outputs: { z: graph.outputs.y } }))
  })
  it("tells apart constants that JSON cannot (±Infinity, NaN, -0)", () => {
    const keyOf = (v: number) => graphKey({ outputs: { y: T.add(T.input("x", [2]), T.full(v, [2])) } })
    const keys = [Infinity, -Infinity, Number.NaN, 0, -0].map(keyOf)
    expect(new Set(keys).size).toBe(5)
    const padKey = (v: number) => graphKey({ outputs: { y: T.pad(T.input("x", [2]), [1], [0], v) } })
    expect(padKey(-Infinity)).not.toBe(padKey(Infinity))
  })
  it("tells an output apart from an update of the same name", () => {
    const s = T.state("s", [1])
    expect(graphKey({ outputs: { "=s": s } })).not.toBe(graphKey({ outputs: {}, updates: { s } }))
  })
  it("prunes frozen weights: no gradient work reaches a weight outside wrt", () => {
    const x = T.input("x", [2, 3])
    const frozen = T.state("frozen", [3, 3])
    const lora = T.state("lora", [3, 3])
    const loss = T.sum(T.matmul(T.matmul(x, frozen), lora))
    const [g] = grad(loss, [lora])
    const plan = planExecution(Reference.referenceDevice, { outputs: { g: g! } })
    // d/dlora needs (x·frozen)ᵀ·1 only: no product with loraᵀ, and no weight gradient of `frozen`.
    const matmuls = plan.steps.filter((s) => s.node.op === "matmul")
    expect(matmuls.length).toBe(2)
    expect(plan.analyzed.states.map((s) => s.name)).toEqual(["frozen"])
  })
  it("reuses dead buffers", () => {
    let t: Tensor = T.input("x", [16])
    for (let i = 0; i < 50; i++) t = T.add(T.mul(t, 1.01), 0.5)
    const plan = planExecution(Reference.referenceDevice, { outputs: { y: t } })
    expect(plan.steps.length).toBeGreaterThan(150)
    expect(plan.slotSpecs.length).toBeLessThan(10)
  })
})

describe("programs", () => {
  const backend = Reference.makeReferenceBackend()
  it("updates state in place between runs", async () => {
    const w = T.state("w", [2])
    const step = { outputs: { w }, updates: { w: T.add(w, T.input("delta", [2])) } }
    const result = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const program = yield* backend.compile(step)
          const buffer = yield* backend.upload({ dtype: "f32", shape: [2], data: Float32Array.from([1, 2]) })
          const delta = { dtype: "f32" as const, shape: [2], data: Float32Array.from([0.5, -1]) }
          yield* program.run({ delta }, { w: buffer })
          yield* program.run({ delta }, { w: buffer })
          return yield* backend.download(buffer)
        }),
      ),
    )
    expect(Array.from(result.data)).toEqual([2, 0])
  })
  it("refuses a missing or mis-shaped input with a typed error", async () => {
    const program = (shape: Array<number>) =>
      Effect.scoped(
        Effect.gen(function* () {
          const p = yield* backend.compile({ outputs: { y: T.mul(T.input("x", [2]), 2) } })
          return yield* p.run(
            shape.length ? { x: { dtype: "f32", shape, data: new Float32Array(shape[0]!) } } : {},
          )
        }),
      )
    const missing = await Effect.runPromise(Effect.flip(program([])))
    expect(missing.message).toBe('program input "x": missing input')
    const wrong = await Effect.runPromise(Effect.flip(program([3])))
    expect(wrong.message).toBe('program input "x": expected [2] f32, got [3] f32')
  })
  it("rounds f16 values on store", async () => {
    const x = T.input("x", [1], "f16")
    const out = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const p = yield* backend.compile({ outputs: { y: T.add(x, T.full(1e-4, [], "f16")) } })
          return yield* p.run({ x: { dtype: "f16", shape: [1], data: Uint16Array.from([0x3c00]) } })
        }),
      ),
    )
    // 1 + 1e-4 is not representable in f16: it rounds back to 1.0 (0x3c00).
    expect(Array.from(out.y!.data)).toEqual([0x3c00])
  })
  it("swaps two states: every update reads the values from before the run", async () => {
    const a = T.state("a", [2])
    const b = T.state("b", [2])
    const f32 = (...v: Array<number>) => ({
      dtype: "f32" as const,
      shape: [v.length],
      data: Float32Array.from(v),
    })
    const [newA, newB] = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const p = yield* backend.compile({ outputs: { s: T.add(a, b) }, updates: { a: b, b: a } })
          const [ba, bb] = [yield* backend.upload(f32(1, 2)), yield* backend.upload(f32(3, 4))]
          yield* p.run({}, { a: ba, b: bb })
          return [yield* backend.download(ba), yield* backend.download(bb)]
        }),
      ),
    )
    expect(Array.from(newA!.data)).toEqual([3, 4])
    expect(Array.from(newB!.data)).toEqual([1, 2])
  })
  it("keeps concurrent runs of one program apart", async () => {
    const x = T.input("x", [1])
    const feed = (v: number) => ({ x: { dtype: "f32" as const, shape: [1], data: Float32Array.of(v) } })
    const results = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const p = yield* backend.compile({ outputs: { y: T.mul(x, 2), z: T.mul(x, 3) } })
          return yield* Effect.all([p.run(feed(1)), p.run(feed(5))], { concurrency: 2 })
        }),
      ),
    )
    expect(results.map((r) => [r.y!.data[0], r.z!.data[0]])).toEqual([
      [2, 3],
      [10, 15],
    ])
  })
})

describe("device memory", () => {
  it("releases every buffer it allocated: per-run inputs at once, program slots and uploads with the scope", async () => {
    const live = new Set<object>()
    const counting = {
      ...Reference.referenceDevice,
      name: "counting",
      allocate: (spec: Parameters<typeof Reference.referenceDevice.allocate>[0]) => {
        const buffer = Reference.referenceDevice.allocate(spec)
        live.add(buffer)
        return buffer
      },
      fromHost: (tensor: Parameters<typeof Reference.referenceDevice.fromHost>[0]) => {
        const buffer = Reference.referenceDevice.fromHost(tensor)
        live.add(buffer)
        return buffer
      },
      release: (buffer: object) => {
        expect(live.delete(buffer)).toBe(true)
      },
    }
    // No idle programs kept: a program's slots go with its scope (the cache is tested on its own).
    const backend = makeKernelBackend(counting, Reference.referenceCapabilities, Effect.die("unused"), {
      cachedPrograms: 0,
    })
    const w = T.state("w", [4])
    const graph = { outputs: { y: T.sum(T.mul(T.exp(w), T.input("x", [4]))) }, updates: { w: T.mul(w, 0.5) } }
    const x = { dtype: "f32" as const, shape: [4], data: Float32Array.from([1, 2, 3, 4]) }
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const program = yield* backend.compile(graph)
          const weights = yield* backend.upload({ dtype: "f32", shape: [4], data: new Float32Array(4) })
          yield* program.run({ x }, { w: weights })
          const afterFirst = live.size
          for (let i = 0; i < 5; i++) yield* program.run({ x }, { w: weights })
          expect(live.size).toBe(afterFirst)
        }),
      ),
    )
    expect(live.size).toBe(0)
  })
})
