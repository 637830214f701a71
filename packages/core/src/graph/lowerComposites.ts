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
  /** What each node became, by id; a node that is already final maps to itself. */
  const rewritten = new Map<number, Tensor>()
  const rewrite = (node: Tensor): Tensor => {
    const inputs = node.inputs.map((i) => rewritten.get(i.id)!)
    if (isComposite(node.op) && !keep.has(node.op)) {
      const decompose = decompositions[node.op] as (n: Tensor, i: ReadonlyArray<Tensor>) => Tensor
      return lower(decompose(node, inputs))
    }
    return inputs.some((t, i) => t !== node.inputs[i])
      ? new Tensor(node.op, inputs, node.attrs, node.shape, node.dtype)
      : node
  }
  // Inputs before their users, without walking below what is already rewritten: a training step has
  // hundreds of roots and a decomposition per composite, and walking the whole graph from each made
  // lowering quadratic in the graph's size.
  const lower = (root: Tensor): Tensor => {
    for (const node of topologicalOrder([root], (t) => rewritten.has(t.id))) {
      const result = rewrite(node)
      rewritten.set(node.id, result)
      rewritten.set(result.id, result)
    }
    return rewritten.get(root.id)!
  }
  const mapValues = (record: Readonly<Record<string, Tensor>>) =>
    Object.fromEntries(Object.entries(record).map(([name, t]) => [name, lower(t)]))
  return graph.updates
    ? { outputs: mapValues(graph.outputs), updates: mapValues(graph.updates) }
    : { outputs: mapValues(graph.outputs) }
}
