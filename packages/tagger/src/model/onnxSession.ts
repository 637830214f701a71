import { access } from "node:fs/promises"
import { Effect, type Scope } from "effect"
import type * as Ort from "onnxruntime-node"
import { type ExecutionProviderUnavailable, type TaggerInputError, TaggerModelError } from "../errors.js"
import {
  checkExecutionProvider,
  defaultExecutionProvider,
  isProviderLoadError,
  providerLoadFailed,
} from "./executionProvider.js"
import type { LoadModelOptions } from "./wd14Model.js"

let runtime: Promise<typeof Ort> | undefined
/** Loaded on first use so that tag editing works where the native module is absent. */
const loadRuntime = (): Promise<typeof Ort> => {
  // As backend-onnx's loader does (turnOffOrtTelemetry): ONNX Runtime's telemetry stays off unless the user
  // set ORT_DISABLE_TELEMETRY.
  process.env.ORT_DISABLE_TELEMETRY ??= "1"
  runtime ??= import("onnxruntime-node").then((module) => {
    const ort = (module as { default?: typeof Ort }).default ?? module
    // Failures reach the user as one line each; ONNX Runtime's own log would repeat them on stderr.
    ort.env.logLevel = "fatal"
    return ort
  })
  return runtime
}

export interface OnnxSession {
  readonly ort: typeof Ort
  readonly session: Ort.InferenceSession
}

/**
 * Opens an ONNX model with the execution provider asked for (CPU by default). `missing` is the error
 * for a file that is not there, `purpose` what onnxruntime-node is needed for. The session is released
 * when the scope closes.
 */
export const openOnnxSession = (
  path: string,
  options: LoadModelOptions,
  missing: TaggerInputError,
  purpose: string,
): Effect.Effect<
  OnnxSession,
  TaggerInputError | TaggerModelError | ExecutionProviderUnavailable,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const provider = options.provider ?? defaultExecutionProvider
    yield* Effect.tryPromise({ try: () => access(path), catch: () => missing })
    const ort = yield* Effect.tryPromise({
      try: loadRuntime,
      catch: (cause) =>
        new TaggerModelError({
          message: `cannot load onnxruntime-node, needed for ${purpose}: ${(cause as Error).message.split("\n")[0]}`,
        }),
    })
    const unsupported = checkExecutionProvider(provider, ort.listSupportedBackends())
    if (unsupported !== undefined) return yield* unsupported
    const session = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          ort.InferenceSession.create(path, {
            executionProviders: [provider],
            graphOptimizationLevel: "all",
            logSeverityLevel: 4,
            ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads }),
          }),
        catch: (cause) => {
          const message = (cause as Error).message ?? String(cause)
          return provider !== "cpu" && isProviderLoadError(message)
            ? providerLoadFailed(provider, message)
            : new TaggerModelError({
                message: `cannot load ${path} as an ONNX model: ${message.split("\n")[0]}`,
              })
        },
      }),
      (session) => Effect.promise(() => session.release()),
    )
    return { ort, session }
  })

/** A tensor input's or output's declared shape, or undefined when it is not a tensor. */
export const tensorShape = (metadata: Ort.InferenceSession.ValueMetadata | undefined) =>
  metadata?.isTensor === true ? metadata.shape : undefined

/** A dimension's size when the model fixes it, else undefined (a named or free dimension). */
export const numericDim = (dim: number | string | undefined): number | undefined =>
  typeof dim === "number" && dim > 0 ? dim : undefined

export const describeShape = (shape: ReadonlyArray<number | string>) => `[${shape.join(", ")}]`
