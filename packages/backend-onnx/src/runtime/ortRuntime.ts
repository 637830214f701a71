import { BackendUnavailable } from "@danlu/core"
import { Effect } from "effect"
import type * as Ort from "onnxruntime-node"

/** The backend's name in errors, device buffers and `danlu backends`. */
export const backendName = "onnxruntime"

export type OrtModule = typeof Ort

let runtime: Promise<OrtModule> | undefined

const firstLine = (text: string): string => text.split("\n")[0]?.trim() ?? text

/**
 * ONNX Runtime ≥ 1.29 starts a telemetry uploader with its first session outside Windows (a thread, an SQLite
 * store under ~/.cache/Microsoft/DeveloperTools, a `mat-debug-<pid>.log` in /tmp) unless ORT_DISABLE_TELEMETRY
 * is set when that session is made. danlu trains on the user's machine and sends nothing, so it sets the
 * variable unless the user did (`ORT_DISABLE_TELEMETRY=0` opts in). A test worker once hung for ten minutes
 * in a run of `danlu demo`, every thread waiting on a lock, with that store open.
 */
export const turnOffOrtTelemetry = (): void => {
  process.env.ORT_DISABLE_TELEMETRY ??= "1"
}

/**
 * onnxruntime-node, loaded on first use so that nothing native loads until a graph is compiled or the
 * backend is described (and so that a missing native module is one line, not a crash at import).
 */
export const loadOrt: Effect.Effect<OrtModule, BackendUnavailable> = Effect.tryPromise({
  try: () => {
    turnOffOrtTelemetry()
    runtime ??= import("onnxruntime-node").then((module) => {
      const ort = (module as { default?: OrtModule }).default ?? module
      // Errors reach the caller as typed values; ONNX Runtime's own log would repeat them on stderr.
      ort.env.logLevel = "fatal"
      return ort
    })
    return runtime
  },
  catch: (cause) =>
    new BackendUnavailable({
      backend: backendName,
      reason: `cannot load onnxruntime-node (${firstLine(cause instanceof Error ? cause.message : String(cause))}); reinstall it with npm install onnxruntime-node`,
    }),
})
