import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Backend, type DeviceBuffer, type Graph, hostTensor, T } from "@danlu/core"
import { trainingStepGraph, trainingStepInputs, trainingStepState } from "@danlu/core/testing"
import { Effect, type Layer } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import type { OnnxBackendConfig } from "../src/index.js"
import { layerConfig } from "../src/index.js"
import { cacheEntry, codeFingerprint } from "../src/runtime/compileCache.js"
import { loadOrt } from "../src/runtime/ortRuntime.js"

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-onnx-cache-"))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const withLayer = <A, E>(layer: Layer.Layer<Backend>, effect: Effect.Effect<A, E, Backend>) =>
  Effect.runPromise(effect.pipe(Effect.provide(layer)))

const scaled = (factor: number): Graph => ({ outputs: { y: T.mul(T.input("x", [3]), factor) } })

const runScaled = (config: OnnxBackendConfig, factor: number) =>
  withLayer(
    layerConfig(config),
    Effect.scoped(
      Effect.gen(function* () {
        const program = yield* (yield* Backend).compile(scaled(factor))
        const out = yield* program.run({ x: hostTensor("f32", [3], Float32Array.of(1, 2, 3)) })
        return Array.from(out.y!.data)
      }),
    ),
  )

/** Three training steps; returns the losses and the updated `down` factor. */
const threeSteps = (config: OnnxBackendConfig) =>
  withLayer(
    layerConfig(config),
    Effect.scoped(
      Effect.gen(function* () {
        const backend = yield* Backend
        const program = yield* backend.compile(trainingStepGraph())
        const states: Record<string, DeviceBuffer> = {}
        for (const [name, host] of Object.entries(trainingStepState()))
          states[name] = yield* backend.upload(host)
        const losses: Array<number> = []
        for (let k = 1; k <= 3; k++)
          losses.push((yield* program.run(trainingStepInputs(k), states)).loss!.data[0]!)
        return { losses, down: Array.from((yield* backend.download(states.down!)).data) }
      }),
    ),
  )

const entries = async (folder: string) => (await readdir(folder)).sort()
const mtimes = (folder: string, files: ReadonlyArray<string>) =>
  Promise.all(files.map((f) => stat(join(folder, f)).then((s) => s.mtimeMs)))
const keyOf = (file: string) => file.slice(0, file.lastIndexOf("."))

it("saves the optimised model and its names once and loads them, not the graph, the next time", async () => {
  const folder = join(dir, "swap")
  expect(await runScaled({ compileCacheDir: folder }, 2)).toEqual([2, 4, 6])
  const twice = await entries(folder)
  expect(twice.map((f) => f.slice(f.lastIndexOf(".")))).toEqual([".json", ".ort"])
  expect(await runScaled({ compileCacheDir: folder }, 3)).toEqual([3, 6, 9])
  const files = await entries(folder)
  expect(files).toHaveLength(4)
  const [two, three] = [keyOf(twice[0]!), keyOf(files.find((f) => !twice.includes(f))!)]
  // Put the ×3 model where the ×2 graph's model is cached: a compile that loads the cache computes ×3.
  await copyFile(join(folder, `${three}.ort`), join(folder, `${two}.ort`))
  expect(await runScaled({ compileCacheDir: folder }, 2)).toEqual([3, 6, 9])
  expect(await runScaled({}, 2)).toEqual([2, 4, 6])
})

it("an entry ONNX Runtime refuses, or whose names are missing or do not fit, is compiled again and replaced", async () => {
  const folder = join(dir, "stale")
  expect(await runScaled({ compileCacheDir: folder }, 3)).toEqual([3, 6, 9])
  const three = keyOf((await entries(folder))[0]!)
  expect(await runScaled({ compileCacheDir: folder }, 2)).toEqual([2, 4, 6])
  const two = keyOf((await entries(folder)).find((f) => !f.startsWith(three))!)
  const [model, names] = [join(folder, `${two}.ort`), join(folder, `${two}.json`)]
  const savedNames = await readFile(names, "utf8")
  const damaged: Record<string, () => Promise<void>> = {
    "model is not a model": () => writeFile(model, "not a model"),
    "names are not JSON": () => writeFile(names, "{"),
    "names are missing": () => rm(names),
    "an input is renamed": () => writeFile(names, savedNames.replace('"input:x"', '"input:y"')),
    "an output is missing": () => writeFile(names, savedNames.replace(/"outputs":\{[^}]*\}/, '"outputs":{}')),
  }
  for (const [what, damage] of Object.entries(damaged)) {
    // The ×3 model in the ×2 graph's place shows whether a compile loaded the entry or replaced it.
    await copyFile(join(folder, `${three}.ort`), model)
    await damage()
    expect([what, await runScaled({ compileCacheDir: folder }, 2)]).toEqual([what, [2, 4, 6]])
    expect([what, await runScaled({ compileCacheDir: folder }, 2)]).toEqual([what, [2, 4, 6]])
    expect([what, await readFile(names, "utf8")]).toEqual([what, savedNames])
  }
  expect(await entries(folder)).toHaveLength(4)
})

it("another fused set or optimisation level is another entry", async () => {
  const folder = join(dir, "variants")
  const graph = (): Graph => ({ outputs: { y: T.softmax(T.input("x", [3])) } })
  const run = (config: OnnxBackendConfig) =>
    withLayer(
      layerConfig({ ...config, compileCacheDir: folder }),
      Effect.scoped(
        Effect.gen(function* () {
          const program = yield* (yield* Backend).compile(graph())
          const out = yield* program.run({ x: hostTensor("f32", [3], Float32Array.of(1, 2, 3)) })
          return Array.from(out.y!.data)
        }),
      ),
    )
  const fused = await run({})
  expect(await entries(folder)).toHaveLength(2)
  const decomposed = await run({ fused: [] })
  expect(await entries(folder)).toHaveLength(4)
  await run({ graphOptimizationLevel: "basic" })
  expect(await entries(folder)).toHaveLength(6)
  expect(await run({ fused: [] })).toEqual(decomposed)
  expect(await entries(folder)).toHaveLength(6)
  const sum = [1, 2, 3].reduce((a, v) => a + Math.exp(v), 0)
  for (const values of [fused, decomposed]) {
    for (const [i, v] of values.entries()) expect(v).toBeCloseTo(Math.exp(i + 1) / sum, 6)
  }
})

it("an entry's key covers the lowering code, as a digest of it", async () => {
  const ort = await Effect.runPromise(loadOrt)
  const code = await Effect.runPromise(codeFingerprint)
  expect(code).toMatch(/^[0-9a-f]{64}$/)
  expect(await Effect.runPromise(codeFingerprint)).toBe(code)
  const entry = (fingerprint: string) => cacheEntry(ort, dir, scaled(2), new Set(), {}, fingerprint)
  expect(entry(code)).toEqual(entry(code))
  expect(entry(`${code.slice(1)}0`).model).not.toBe(entry(code).model)
})

it("a training step loaded from the cache computes what a fresh compile computes", async () => {
  const folder = join(dir, "step")
  const fresh = await threeSteps({})
  const saved = await threeSteps({ compileCacheDir: folder })
  const files = await entries(folder)
  const written = await mtimes(folder, files)
  const loaded = await threeSteps({ compileCacheDir: folder })
  // Nothing was written again: the second process loaded the entry.
  expect(await entries(folder)).toEqual(files)
  expect(await mtimes(folder, files)).toEqual(written)
  expect(saved).toEqual(fresh)
  expect(loaded).toEqual(fresh)
})

it("a program loaded from the cache names the core node of a run-time error as a fresh one does", async () => {
  const folder = join(dir, "errors")
  const failure = (config: OnnxBackendConfig) =>
    withLayer(
      layerConfig(config),
      Effect.scoped(
        Effect.gen(function* () {
          const table = T.input("table", [3, 2])
          const program = yield* (yield* Backend).compile({
            outputs: { rows: T.gather(T.exp(table), T.input("indices", [2], "i32")) },
          })
          return yield* program.run({
            table: hostTensor("f32", [3, 2], new Float32Array(6)),
            indices: hostTensor("i32", [2], Int32Array.of(0, 7)),
          })
        }),
      ).pipe(
        Effect.flip,
        Effect.map((error) => error.message),
      ),
    )
  const fresh = await failure({})
  expect(fresh).toMatch(/failed running gather node #\d+ → \[2,2\] f32 \(ONNX node 'n\d+:gather#\d+'\)/)
  expect(await failure({ compileCacheDir: folder })).toBe(fresh)
  const saved = await entries(folder)
  const written = await mtimes(folder, saved)
  expect(saved).toHaveLength(2)
  expect(await failure({ compileCacheDir: folder })).toBe(fresh)
  expect(await mtimes(folder, saved)).toEqual(written)
})

it("the memory and optimisation knobs change how ONNX Runtime runs, not what it computes", async () => {
  const fresh = await threeSteps({})
  const lean = await threeSteps({ enableCpuMemArena: false, enableMemPattern: false })
  const unoptimised = await threeSteps({ graphOptimizationLevel: "disabled" })
  expect(lean).toEqual(fresh)
  expect(unoptimised.losses.map((l, i) => Math.abs(l - fresh.losses[i]!))).toSatisfy((d: Array<number>) =>
    d.every((x) => x < 1e-5),
  )
})

it("graphs of one shape share a session until a holder releases it", async () => {
  const shared = await withLayer(
    layerConfig({}),
    Effect.scoped(
      Effect.gen(function* () {
        const backend = yield* Backend
        const first = yield* Effect.scoped(backend.compile(scaled(2)))
        const cached = yield* backend.compile(scaled(2))
        const other = yield* backend.compile(scaled(3))
        yield* cached.release!
        const fresh = yield* backend.compile(scaled(2))
        const out = yield* fresh.run({ x: hostTensor("f32", [3], Float32Array.of(1, 2, 3)) })
        return {
          cached: cached.analyzed === first.analyzed,
          other: other.analyzed === first.analyzed,
          fresh: fresh.analyzed === first.analyzed,
          out: Array.from(out.y!.data),
        }
      }),
    ),
  )
  expect(shared).toEqual({ cached: true, other: false, fresh: false, out: [2, 4, 6] })
})
