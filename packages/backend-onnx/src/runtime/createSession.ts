import { randomUUID } from "node:crypto"
import { mkdir, rename, rm, stat } from "node:fs/promises"
import {
  type AnalyzedGraph,
  asBackendError,
  type BackendError,
  type CompositeOp,
  type Graph,
  type Tensor,
} from "@danlu/core"
import { Effect } from "effect"
import type * as Ort from "onnxruntime-node"
import { lowerGraph, loweringOrder, type ModelBinding, nodeDescriber } from "../lower/lowerGraph.js"
import { bindsSession, cacheEntry, codeFingerprint, loadBinding, saveBinding } from "./compileCache.js"
import { mapOrtError } from "./ortErrors.js"
import { backendName, type OrtModule } from "./ortRuntime.js"

/** A graph's session and the names its values have in the session's model. */
export interface CompiledGraph {
  readonly session: Ort.InferenceSession
  readonly binding: ModelBinding
}

const exists = (path: string) =>
  Effect.promise(() =>
    stat(path).then(
      () => true,
      () => false,
    ),
  )

/**
 * The session of a graph. Without a cache folder, the graph is lowered and optimised. With one, the first
 * compile saves ONNX Runtime's optimised model there in ONNX Runtime's own format (loads without resolving
 * the graph again) and the ONNX names next to it; a later compile of the same graph loads both with
 * optimisation disabled and lowers nothing. Each file is written to a temporary name and renamed, the names
 * last, so a reader never sees half an entry; an entry ONNX Runtime refuses or whose names do not fit the
 * graph is compiled again and replaced.
 */
export const createSession = (
  ort: OrtModule,
  graph: Graph,
  analyzed: AnalyzedGraph,
  fused: ReadonlySet<CompositeOp>,
  options: Ort.InferenceSession.SessionOptions,
  cacheDir: string | undefined,
): Effect.Effect<CompiledGraph, BackendError> => {
  const fresh = (extra: Ort.InferenceSession.SessionOptions = {}) =>
    Effect.gen(function* () {
      const lowered = yield* Effect.try({
        try: () => lowerGraph(graph, fused),
        catch: (cause) => asBackendError(cause, backendName, "cannot lower the graph to ONNX"),
      })
      const session = yield* Effect.tryPromise({
        try: () => ort.InferenceSession.create(lowered.model, { ...options, ...extra }),
        catch: (cause) => mapOrtError(cause, lowered, "compile"),
      })
      return { session, binding: lowered as ModelBinding }
    })
  if (cacheDir === undefined) return fresh()
  return Effect.gen(function* () {
    const entry = cacheEntry(ort, cacheDir, graph, fused, options, yield* codeFingerprint)
    // Only an error message needs the lowered nodes, so they are worked out if one comes.
    let order: ReadonlyArray<Tensor> | undefined
    const describeNode = nodeDescriber(() => {
      order ??= loweringOrder(graph, fused).order
      return order
    })
    const binding = (yield* exists(entry.model))
      ? yield* loadBinding(entry.binding, analyzed, describeNode)
      : undefined
    if (binding !== undefined) {
      const session = yield* Effect.promise(() =>
        ort.InferenceSession.create(entry.model, { ...options, graphOptimizationLevel: "disabled" }).then(
          (session) => session,
          () => undefined,
        ),
      )
      if (session !== undefined && bindsSession(binding, session)) return { session, binding }
      if (session !== undefined) yield* Effect.promise(() => session.release().catch(() => undefined))
    }
    const cacheable = yield* Effect.promise(() =>
      mkdir(cacheDir, { recursive: true }).then(
        () => true,
        () => false,
      ),
    )
    if (!cacheable) return yield* fresh()
    // The temporary name keeps the .ort extension: ONNX Runtime picks the format it writes from it.
    const temporary = `${entry.model.slice(0, -".ort".length)}.${randomUUID()}.tmp.ort`
    const compiled = yield* fresh({ optimizedModelFilePath: temporary }).pipe(
      Effect.onError(() => Effect.promise(() => rm(temporary, { force: true }))),
    )
    const saved = yield* Effect.promise(() =>
      rename(temporary, entry.model).then(
        () => true,
        () => rm(temporary, { force: true }).then(() => false),
      ),
    )
    if (saved) yield* saveBinding(entry.binding, compiled.binding)
    return compiled
  })
}
