import type { Graph } from "./graph.js"
import { topologicalOrder } from "./topologicalOrder.js"

/**
 * A structural fingerprint of a graph (ops, attributes, shapes, dtypes, wiring, names), so programs
 * can be cached per graph shape — one per aspect bucket — whatever tensor objects built it.
 */
export const graphKey = (graph: Graph): string => {
  const roots = [
    ...Object.entries(graph.outputs),
    ...Object.entries(graph.updates ?? {}).map(([n, t]) => [`=${n}`, t] as const),
  ]
  const order = topologicalOrder(roots.map(([, t]) => t))
  const index = new Map(order.map((t, i) => [t.id, i]))
  const lines = order.map(
    (t) =>
      `${t.op}|${JSON.stringify(t.attrs)}|${t.shape.join("x")}|${t.dtype}|${t.inputs.map((i) => index.get(i.id)).join(",")}`,
  )
  lines.push(roots.map(([name, t]) => `${name}:${index.get(t.id)}`).join(";"))
  return fnv1a(lines.join("\n"))
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
