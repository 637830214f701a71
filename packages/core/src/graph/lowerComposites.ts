import { decompositions } from "../composites/decompositions.js"
import type { CompositeOp } from "../ops/composites.js"
import { isComposite } from "../ops/opName.js"
import { Tensor } from "../tensor/tensor.js"
import type { Graph } from "./graph.js"
import { topologicalOrder } from "./topologicalOrder.js"

/**
 * Rewrites a graph so that every composite a backend has no fused kernel for becomes its
 * decomposition into primitives. Composites in `keep` stay whole (their inputs are still lowered).
 */
export const lowerComposites = (graph: Graph, keep: ReadonlySet<CompositeOp> = new Set()): Graph => {
  const rewritten = new Map<number, Tensor>()
  const lower = (root: Tensor): Tensor => {
    for (const node of topologicalOrder([root])) {
      if (rewritten.has(node.id)) continue
      const inputs = node.inputs.map((i) => rewritten.get(i.id) ?? i)
      const changed = inputs.some((t, i) => t !== node.inputs[i])
      let result: Tensor
      if (isComposite(node.op) && !keep.has(node.op)) {
        const decompose = decompositions[node.op] as (n: Tensor, i: ReadonlyArray<Tensor>) => Tensor
        result = lower(decompose(node, inputs))
      } else {
        result = changed ? new Tensor(node.op, inputs, node.attrs, node.shape, node.dtype) : node
      }
      rewritten.set(node.id, result)
    }
    return rewritten.get(root.id)!
  }
  const mapValues = (record: Readonly<Record<string, Tensor>>) =>
    Object.fromEntries(Object.entries(record).map(([name, t]) => [name, lower(t)]))
  return graph.updates
    ? { outputs: mapValues(graph.outputs), updates: mapValues(graph.updates) }
    : { outputs: mapValues(graph.outputs) }
}
