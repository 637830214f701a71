import { constants as bufferConstants } from "node:buffer"
import { cpus, totalmem } from "node:os"
import {
  analyzeGraph,
  asBackendError,
  type BackendInfo,
  type BackendShape,
  type Capabilities,
  compositeOps,
  type DeviceInfo,
  dtypes,
  type Graph,
  makeProgramCache,
} from "@danlu/core"
import { Effect, type Scope } from "effect"
import type * as Ort from "onnxruntime-node"
import { OnnxBuffer, ownBuffer, toHostTensor, toOrtTensor } from "../program/deviceBuffer.js"
import { makeProgram } from "../program/program.js"
import { createSession } from "../runtime/createSession.js"
import { type ExecutionProvider, providerProblem, resolveProviders } from "../runtime/executionProviders.js"
import { backendName, loadOrt } from "../runtime/ortRuntime.js"
import type { OnnxBackendConfig } from "./config.js"

const knownProviders: ReadonlyArray<ExecutionProvider> = ["cpu", "cuda", "tensorrt", "webgpu"]

/**
 * The ONNX Runtime backend: each graph becomes one ONNX model and one `InferenceSession`, cached by
 * graph shape (core's program cache). Nothing native loads until the first describe, upload or compile.
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
    const programs = makeProgramCache(config.cachedPrograms ?? 16)
    const disabledOptimizers = config.disabledOptimizers ?? ["CommonSubexpressionElimination"]
    yield* Effect.addFinalizer(() => programs.close)

    const sessionOptions = (
      providers: ReadonlyArray<ExecutionProvider>,
    ): Ort.InferenceSession.SessionOptions => ({
      executionProviders: [...providers],
      graphOptimizationLevel: config.graphOptimizationLevel ?? "all",
      logSeverityLevel: 4,
      ...(config.intraOpThreads === undefined ? {} : { intraOpNumThreads: config.intraOpThreads }),
      ...(config.interOpThreads === undefined
        ? {}
        : { interOpNumThreads: config.interOpThreads, executionMode: "parallel" as const }),
      ...(config.enableCpuMemArena === undefined ? {} : { enableCpuMemArena: config.enableCpuMemArena }),
      enableMemPattern: config.enableMemPattern ?? false,
      ...(disabledOptimizers.length === 0
        ? {}
        : { extra: { optimization: { disable_specified_optimizers: disabledOptimizers.join(",") } } }),
    })

    const compileUncached = (graph: Graph) =>
      Effect.gen(function* () {
        const { ort, providers } = yield* ready
        const analyzed = yield* Effect.try({
          try: () => analyzeGraph(graph),
          catch: (cause) => asBackendError(cause, backendName, "invalid graph"),
        })
        const { session, binding } = yield* Effect.acquireRelease(
          createSession(ort, graph, analyzed, fused, sessionOptions(providers), config.compileCacheDir),
          ({ session }) => Effect.promise(() => session.release().catch(() => undefined)),
        )
        return makeProgram(ort, analyzed, binding, session)
      })

    const compile: BackendShape["compile"] = (graph) => programs.compile(graph, compileUncached(graph))

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
        Effect.map(ownBuffer(buffer, "download"), (own) =>
          toHostTensor(own.current, own.dtype, own.shape, true),
        ),
      compile,
    } satisfies BackendShape
  })
