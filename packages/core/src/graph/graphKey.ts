import type { Tensor } from "../tensor/tensor.js"
import type { Graph } from "./graph.js"
import { topologicalOrder } from "./topologicalOrder.js"

/**
 * A structural fingerprint of a graph (ops, attributes, shapes, dtypes, wiring, names), so programs
 * can be cached per graph shape — one per aspect bucket — whatever tensor objects built it.
 */
export const graphKey = (graph: Graph): string => fnv1a(graphSignature(graph))

/**
 * Signatures of the graphs seen, by graph object (a graph is not changed once built): a compile asks for one
 * twice, the program cache's key and a backend's disk cache, and a training step's takes 0.1–0.2 s.
 */
const signatures = new WeakMap<Graph, string>()

/**
 * The text `graphKey` hashes: one line per node in topological order, then the names of the roots. Graphs with
 * equal signatures compute the same thing, so a backend that keeps compiled programs on disk keys them by
 * a cryptographic hash of it (graphKey's 64 bits are meant for the programs of one process).
 */
export const graphSignature = (graph: Graph): string => {
  const known = signatures.get(graph)
  if (known !== undefined) return known
  const outputs = Object.entries(graph.outputs)
  const updates = Object.entries(graph.updates ?? {})
  const order = topologicalOrder([...outputs, ...updates].map(([, t]) => t))
  const index = new Map(order.map((t, i) => [t.id, i]))
  const lines = order.map(
    (t) =>
      `${t.op}|${JSON.stringify(t.attrs, exactNumbers)}|${t.shape.join("x")}|${t.dtype}|${t.inputs.map((i) => index.get(i.id)).join(",")}`,
  )
  const wiring = (roots: ReadonlyArray<[string, Tensor]>) => roots.map(([name, t]) => [name, index.get(t.id)])
  lines.push(JSON.stringify([wiring(outputs), wiring(updates)]))
  const signature = lines.join("\n")
  signatures.set(graph, signature)
  return signature
}

/** JSON writes ±Infinity and NaN as `null` and -0 as `0`: a -Infinity mask or pad value must not share a key with +Infinity. */
const exactNumbers = (_: string, value: unknown): unknown => {
  if (typeof value !== "number") return value
  if (Object.is(value, -0)) return "#-0"
  return Number.isFinite(value) ? value : `#${value}`
}

const fnv1a = (text: string): string => {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15)
  }
  return `${(h1 >>> 0).toString(16).padStart(8, "0")}${(h2 >>> 0).toString(16).padStart(8, "0")}${text.length.toString(16)}`
}
