import { createHash, randomUUID } from "node:crypto"
import { mkdir, rename, rm, stat } from "node:fs/promises"
import { arch, cpus } from "node:os"
import { join } from "node:path"
import type { BackendError } from "@danlu/core"
import { Effect } from "effect"
import type * as Ort from "onnxruntime-node"
import type { LoweredGraph } from "../lower/lowerGraph.js"
import { mapOrtError } from "./ortErrors.js"
import type { OrtModule } from "./ortRuntime.js"

/**
 * Where the optimised form of `model` lives in `dir`. The key hashes the model's bytes rather than
 * `graphKey`: the same graph lowers differently under another `fused` set or danlu version. It also
 * names the runtime, the options and the machine, because level `"all"` writes CPU-specific layouts.
 */
const cachedModelPath = (
  ort: OrtModule,
  dir: string,
  model: Uint8Array,
  options: Ort.InferenceSession.SessionOptions,
): string => {
  const hash = createHash("sha256")
  hash.update(model)
  hash.update(
    JSON.stringify([
      ort.env.versions.common,
      options.executionProviders,
      options.graphOptimizationLevel,
      options.extra,
      arch(),
      cpus()[0]?.model,
    ]),
  )
  return join(dir, `${hash.digest("hex").slice(0, 32)}.onnx`)
}

const exists = (path: string) =>
  Effect.promise(() =>
    stat(path).then(
      () => true,
      () => false,
    ),
  )

/**
 * The session of a lowered graph. With a cache folder, the first compile saves ONNX Runtime's optimised
 * model there (written to a temporary name and renamed, so a reader never sees half a file) and later
 * compiles load it with optimisation disabled; a cached file ONNX Runtime refuses is compiled again.
 */
export const createSession = (
  ort: OrtModule,
  lowered: LoweredGraph,
  options: Ort.InferenceSession.SessionOptions,
  cacheDir: string | undefined,
): Effect.Effect<Ort.InferenceSession, BackendError> => {
  const fresh = (extra: Ort.InferenceSession.SessionOptions = {}) =>
    Effect.tryPromise({
      try: () => ort.InferenceSession.create(lowered.model, { ...options, ...extra }),
      catch: (cause) => mapOrtError(cause, lowered, "compile"),
    })
  if (cacheDir === undefined) return fresh()
  return Effect.gen(function* () {
    const path = cachedModelPath(ort, cacheDir, lowered.model, options)
    if (yield* exists(path)) {
      const cached = yield* Effect.promise(() =>
        ort.InferenceSession.create(path, { ...options, graphOptimizationLevel: "disabled" }).then(
          (session) => session,
          () => undefined,
        ),
      )
      if (cached !== undefined) return cached
    }
    // The temporary name keeps the .onnx extension: ONNX Runtime picks the format it writes from it.
    const temporary = `${path.slice(0, -".onnx".length)}.${randomUUID()}.tmp.onnx`
    const cacheable = yield* Effect.promise(() =>
      mkdir(cacheDir, { recursive: true }).then(
        () => true,
        () => false,
      ),
    )
    if (!cacheable) return yield* fresh()
    const session = yield* fresh({ optimizedModelFilePath: temporary }).pipe(
      Effect.onError(() => Effect.promise(() => rm(temporary, { force: true }))),
    )
    yield* Effect.promise(() => rename(temporary, path).catch(() => rm(temporary, { force: true })))
    return session
  })
}
