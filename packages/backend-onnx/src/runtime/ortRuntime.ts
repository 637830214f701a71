import { BackendUnavailable } from "@danlu/core"
import { Effect } from "effect"
import type * as Ort from "onnxruntime-node"

/** The backend's name in errors, device buffers and `danlu backends`. */
export const backendName = "onnxruntime"

export type OrtModule = typeof Ort

let runtime: Promise<OrtModule> | undefined

const firstLine = (text: string): string => text.split("\n")[0]?.trim() ?? text

/**
 * onnxruntime-node, loaded on first use so that nothing native loads until a graph is compiled or the
 * backend is described (and so that a missing native module is one line, not a crash at import).
 */
export const loadOrt: Effect.Effect<OrtModule, BackendUnavailable> = Effect.tryPromise({
  try: () => {
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
