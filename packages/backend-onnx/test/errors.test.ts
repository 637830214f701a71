import { Backend, type BackendError, hostTensor, type Program, Reference, T } from "@danlu/core"
import { Effect, type Layer, Logger, type Scope } from "effect"
import { describe, expect, it } from "vitest"
import { layer, layerConfig } from "../src/index.js"

const failureOf = <A, E>(
  effect: Effect.Effect<A, E, Backend | Scope.Scope>,
  backendLayer: Layer.Layer<Backend> = layer,
) => Effect.runPromise(Effect.flip(Effect.scoped(effect)).pipe(Effect.provide(backendLayer)))

describe("errors", () => {
  it("names the core node and op when ONNX Runtime fails during a run", async () => {
    const table = T.input("table", [3, 2])
    const indices = T.input("indices", [2], "i32")
    const error = await failureOf(
      Effect.gen(function* () {
        const program = yield* (yield* Backend).compile({
          outputs: { rows: T.gather(T.exp(table), indices) },
        })
        return yield* program.run({
          table: hostTensor("f32", [3, 2], new Float32Array(6)),
          indices: hostTensor("i32", [2], Int32Array.of(0, 7)),
        })
      }),
    )
    expect(error._tag).toBe("BackendExecutionError")
    expect(error).toMatchObject({ op: "gather" })
    expect(error.message).toMatch(
      /^onnxruntime \[gather\]: failed running gather node #\d+ → \[2,2\] f32 \(ONNX node 'n\d+:gather#\d+'\): /,
    )
    expect(error.message).not.toContain("\n")
  })

  // The arena says how much it asked for (2^40 f32 values); without it the allocator only throws bad_alloc.
  it.each([
    ["with", {}, 2 ** 42],
    ["without", { enableCpuMemArena: false, enableMemPattern: false }, undefined],
  ] as const)(
    "an allocation far too large is DeviceOutOfMemory, %s the CPU arena",
    async (_, config, bytes) => {
      const x = T.input("x", [1, 1])
      const error = await failureOf(
        Effect.gen(function* () {
          const program = yield* (yield* Backend).compile({
            outputs: { total: T.sum(T.exp(T.expand(x, [2 ** 20, 2 ** 20]))) },
          })
          return yield* program.run({ x: hostTensor("f32", [1, 1], Float32Array.of(1)) })
        }),
        layerConfig(config),
      )
      expect(error).toMatchObject({
        _tag: "DeviceOutOfMemory",
        backend: "onnxruntime",
        requestedBytes: bytes,
      })
      expect(error.message).toMatch(
        /^onnxruntime ran out of memory[^\n]*; lower the batch size or the resolution$/,
      )
    },
  )

  it("a mis-shaped update arrives as a ShapeError, not a BackendExecutionError", async () => {
    const w = T.state("w", [2])
    const error = await failureOf(
      Effect.flatMap(Backend, (b) => b.compile({ outputs: { y: w }, updates: { w: T.input("u", [3]) } })),
    )
    expect(error).toMatchObject({ _tag: "ShapeError", shapes: [[3], [2]] })
  })

  it("refuses missing or mis-shaped inputs and buffers of another backend", async () => {
    const x = T.input("x", [2])
    const w = T.state("w", [2])
    const graph = { outputs: { y: T.add(x, w) } }
    const compileAnd = (run: (program: Program) => Effect.Effect<unknown, BackendError, Scope.Scope>) =>
      failureOf(
        Effect.gen(function* () {
          return yield* run(yield* (yield* Backend).compile(graph))
        }),
      )
    const missing = await compileAnd((p) => p.run({}))
    expect(missing).toMatchObject({ _tag: "ProgramInputError", name: "x", detail: "missing input" })
    const misShaped = await compileAnd((p) => p.run({ x: hostTensor("f32", [3], new Float32Array(3)) }))
    expect(misShaped).toMatchObject({ _tag: "ProgramInputError", detail: "expected [2] f32, got [3] f32" })
    const foreign = await compileAnd((p) =>
      Effect.gen(function* () {
        const buffer = yield* Reference.makeReferenceBackend().upload(
          hostTensor("f32", [2], new Float32Array(2)),
        )
        return yield* p.run({ x: hostTensor("f32", [2], new Float32Array(2)) }, { w: buffer })
      }),
    )
    expect(foreign).toMatchObject({ _tag: "ProgramInputError", name: "w" })
    expect(foreign.message).toContain("belongs to reference")
  })
})

describe("execution providers", () => {
  it("fails with one line when a configured provider is missing and fallback is error", async () => {
    const error = await failureOf(
      Effect.flatMap(Backend, (b) => b.describe),
      layerConfig({ executionProviders: ["nonexistent"], fallback: "error" }),
    )
    expect(error._tag).toBe("BackendUnavailable")
    expect(error.message).toMatch(
      /^onnxruntime is unavailable: execution provider "nonexistent": this onnxruntime-node build has no "nonexistent" provider \(it has: cpu/,
    )
    expect(error.message).not.toContain("\n")
  })

  it("falls back to the CPU with a warning when fallback is cpu", async () => {
    const warnings: Array<string> = []
    const x = T.input("x", [2])
    const result = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const backend = yield* Backend
          const info = yield* backend.describe
          const program = yield* backend.compile({ outputs: { y: T.mul(x, 3) } })
          return { info, out: yield* program.run({ x: hostTensor("f32", [2], Float32Array.of(1, 2)) }) }
        }),
      ).pipe(
        Effect.provide(layerConfig({ executionProviders: ["nonexistent"], fallback: "cpu" })),
        Effect.provide(Logger.layer([Logger.make(({ message }) => warnings.push(String(message)))])),
      ),
    )
    expect(result.out.y!.data).toEqual(Float32Array.of(3, 6))
    expect(result.info.devices.find((d) => d.name === "cpu")?.detail).toMatch(/in use$/)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(
      /^onnxruntime: execution provider "nonexistent" is unavailable .*; using the CPU$/,
    )
  })
})
