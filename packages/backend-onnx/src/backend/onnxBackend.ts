import { constants as bufferConstants } from "node:buffer"
import { cpus, totalmem } from "node:os"
import {
  analyzeGraph,
  BackendExecutionError,
  type BackendInfo,
  type BackendShape,
  type Capabilities,
  compositeOps,
  type DeviceInfo,
  dtypes,
  type Graph,
  graphKey,
  ProgramInputError,
} from "@danlu/core"
import { Effect, type Scope } from "effect"
import type * as Ort from "onnxruntime-node"
import { type LoweredGraph, lowerGraph } from "../lower/lowerGraph.js"
import { OnnxBuffer, toHostTensor, toOrtTensor } from "../program/deviceBuffer.js"
import { makeProgram } from "../program/program.js"
import { type ExecutionProvider, providerProblem, resolveProviders } from "../runtime/executionProviders.js"
import { mapOrtError } from "../runtime/ortErrors.js"
import { backendName, loadOrt, type OrtModule } from "../runtime/ortRuntime.js"
import type { OnnxBackendConfig } from "./config.js"

interface CompiledGraph {
  readonly lowered: LoweredGraph
  readonly session: Ort.InferenceSession
  users: number
  lastUsed: number
}

const knownProviders: ReadonlyArray<ExecutionProvider> = ["cpu", "cuda", "tensorrt", "webgpu"]

const lowering = (graph: Graph, fused: ReadonlySet<(typeof compositeOps)[number]>) =>
  Effect.try({
    try: () => lowerGraph(graph, fused),
    catch: (cause) =>
      new BackendExecutionError({
        backend: backendName,
        op: undefined,
        detail: `cannot lower the graph to ONNX: ${cause instanceof Error ? cause.message : String(cause)}`,
      }),
  })

/**
 * The ONNX Runtime backend: each graph becomes one ONNX model and one `InferenceSession`, cached by
 * graph shape. Nothing native loads until the first describe, upload or compile.
 */
export const makeOnnxBackend = (
  config: OnnxBackendConfig = {},
): Effect.Effect<BackendShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const fused = new Set(config.fused ?? compositeOps)
    const capabilities: Capabilities = {
      dtypes,
      fused: [...fused],
      maxBufferBytes: bufferConstants.MAX_LENGTH,
    }
    const wanted = config.executionProviders ?? ["cpu"]
    const ready = yield* Effect.cached(
      Effect.gen(function* () {
        const ort = yield* loadOrt
        const providers = yield* resolveProviders(ort, wanted, config.fallback ?? "cpu")
        return { ort, providers }
      }),
    )
    const cache = new Map<string, CompiledGraph>()
    let clock = 0
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        const entries = [...cache.values()]
        cache.clear()
        await Promise.all(entries.map((entry) => entry.session.release()))
      }),
    )

    const evictIdle = Effect.promise(async () => {
      const limit = config.cachedPrograms ?? 16
      const idle = [...cache].filter(([, e]) => e.users === 0).sort(([, a], [, b]) => a.lastUsed - b.lastUsed)
      while (cache.size > limit && idle.length > 0) {
        const [key, entry] = idle.shift()!
        cache.delete(key)
        await entry.session.release()
      }
    })

    const sessionOptions = (
      providers: ReadonlyArray<ExecutionProvider>,
    ): Ort.InferenceSession.SessionOptions => ({
      executionProviders: [...providers],
      graphOptimizationLevel: "all",
      logSeverityLevel: 4,
      ...(config.intraOpThreads === undefined ? {} : { intraOpNumThreads: config.intraOpThreads }),
      ...(config.interOpThreads === undefined
        ? {}
        : { interOpNumThreads: config.interOpThreads, executionMode: "parallel" as const }),
    })

    const acquire = (ort: OrtModule, providers: ReadonlyArray<ExecutionProvider>, graph: Graph) =>
      Effect.gen(function* () {
        const key = graphKey(graph)
        let entry = cache.get(key)
        if (entry === undefined) {
          const lowered = yield* lowering(graph, fused)
          const session = yield* Effect.tryPromise({
            try: () => ort.InferenceSession.create(lowered.model, sessionOptions(providers)),
            catch: (cause) => mapOrtError(cause, lowered, "compile"),
          })
          entry = cache.get(key) ?? { lowered, session, users: 0, lastUsed: 0 }
          if (entry.session !== session) yield* Effect.promise(() => session.release())
          cache.set(key, entry)
        }
        entry.users++
        entry.lastUsed = clock++
        return entry
      })

    const compile: BackendShape["compile"] = (graph) =>
      Effect.gen(function* () {
        const { ort, providers } = yield* ready
        const analyzed = yield* Effect.try({
          try: () => analyzeGraph(graph),
          catch: (cause) =>
            new BackendExecutionError({
              backend: backendName,
              op: undefined,
              detail: `invalid graph: ${String(cause)}`,
            }),
        })
        const entry = yield* Effect.acquireRelease(acquire(ort, providers, graph), (e) =>
          Effect.sync(() => {
            e.users--
          }).pipe(Effect.andThen(evictIdle)),
        )
        return makeProgram(ort, analyzed, entry.lowered, entry.session)
      })

    const describe: BackendShape["describe"] = Effect.gen(function* () {
      const { ort, providers } = yield* ready
      const devices: Array<DeviceInfo> = []
      const listed = ort.listSupportedBackends().map((b) => b.name)
      for (const provider of knownProviders.filter((p) => listed.includes(p))) {
        // Starting WebGPU (Dawn) just to describe it takes a while and prints adapter warnings; the
        // build lists it, so it is reported as bundled and checked when a layer asks for it.
        const inUse = providers.includes(provider)
        const problem = inUse || provider === "webgpu" ? undefined : yield* providerProblem(ort, provider)
        const state = inUse
          ? "in use"
          : provider === "webgpu"
            ? "bundled, experimental; enable with executionProviders"
            : problem === undefined
              ? "available; enable with executionProviders"
              : `unavailable: ${problem}`
        devices.push(
          provider === "cpu"
            ? {
                name: "cpu",
                memoryBytes: totalmem(),
                detail: `${cpus()[0]?.model.trim() ?? "CPU"} × ${cpus().length}; ${state}`,
              }
            : { name: provider, detail: state },
        )
      }
      const info: BackendInfo = { name: `${backendName} ${ort.env.versions.common}`, devices, capabilities }
      return info
    })

    return {
      name: backendName,
      capabilities,
      describe,
      upload: (host) =>
        Effect.map(ready, ({ ort }) => new OnnxBuffer(host.dtype, host.shape, toOrtTensor(ort, host, true))),
      download: (buffer) =>
        buffer instanceof OnnxBuffer
          ? Effect.succeed(toHostTensor(buffer.current, buffer.dtype, buffer.shape, true))
          : Effect.fail(
              new ProgramInputError({
                name: "download",
                detail: `the buffer belongs to ${buffer.backend}, not ${backendName}`,
              }),
            ),
      compile,
    } satisfies BackendShape
  })
