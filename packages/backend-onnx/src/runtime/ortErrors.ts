import {
  type BackendError,
  BackendExecutionError,
  DeviceOutOfMemory,
  KernelNotImplemented,
  lowerForMemory,
} from "@danlu/core"
import type { ModelBinding } from "../lower/lowerGraph.js"
import { backendName } from "./ortRuntime.js"

const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** The ONNX node an ONNX Runtime message names, in any of the forms its errors use. */
const onnxNodeName = (message: string): string | undefined =>
  (/Name:'([^']*)'/.exec(message) ??
    /node with name '([^']*)'/.exec(message) ??
    /In Node, \("([^"]*)"/.exec(message))?.[1]

/** ONNX Runtime's status line without the source file and C++ signature it starts with. */
const statusMessage = (message: string): string => {
  const status = /Status Message: (.*)/s.exec(message)?.[1] ?? message
  return status
    .split("\n")[0]!
    .replace(/^\/\S+:\d+ [^)]*\)\s*/, "")
    .trim()
}

/**
 * Turns an ONNX Runtime failure into a typed error naming the core node (op, index in the graph's
 * order, shape) and the ONNX node it was lowered to.
 */
export const mapOrtError = (
  cause: unknown,
  lowered: Pick<ModelBinding, "describeNode">,
  phase: "compile" | "run",
): BackendError => {
  const message = messageOf(cause)
  const name = onnxNodeName(message)
  const node = name === undefined ? undefined : lowered.describeNode(name)
  const where = node ? `${node.text} (ONNX node '${name}')` : name ? `ONNX node '${name}'` : `the graph`
  if (/Could not find an implementation/.test(message)) {
    return new KernelNotImplemented({
      op: `${node?.op ?? "?"} (${statusMessage(message)})`,
      backend: backendName,
    })
  }
  if (/bad_alloc|Failed to allocate memory|out of memory/i.test(message)) {
    const bytes = /size[= ]+(\d+)/i.exec(message)?.[1]
    return new DeviceOutOfMemory({
      backend: backendName,
      requestedBytes: bytes === undefined ? undefined : Number(bytes),
      detail: `${phase === "compile" ? "creating a session for" : "running"} ${where}: ${statusMessage(message)}`,
      lower: lowerForMemory,
    })
  }
  return new BackendExecutionError({
    backend: backendName,
    op: node?.op,
    detail: `${phase === "compile" ? "cannot create a session for" : "failed running"} ${where}: ${statusMessage(message)}`,
  })
}
