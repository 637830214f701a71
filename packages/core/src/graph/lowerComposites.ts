import { decompositions } from "../composites/decompositions.js"
import type { CompositeOp } from "../ops/composites.js"
import { isComposite } from "../ops/opName.js"
import { Tensor } from "../tensor/tensor.js"
import type { Graph } from "./graph.js"

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
    const stack: Array<[Tensor, number]> = rewritten.has(root.id) ? [] : [[root, 0]]
    const entered = new Set<number>([root.id])
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const [node, next] = top
      if (next < node.inputs.length) {
        top[1] = next + 1
        const child = node.inputs[next]!
        if (!rewritten.has(child.id) && !entered.has(child.id)) {
          entered.add(child.id)
          stack.push([child, 0])
        }
      } else {
        stack.pop()
        const result = rewrite(node)
        rewritten.set(node.id, result)
        rewritten.set(result.id, result)
      }
    }
    return rewritten.get(root.id)!
  }
  const mapValues = (record: Readonly<Record<string, Tensor>>) =>
    Object.fromEntries(Object.entries(record).map(([name, t]) => [name, lower(t)]))
  return graph.updates
    ? { outputs: mapValues(graph.outputs), updates: mapValues(graph.updates) }
    : { outputs: mapValues(graph.outputs) }
}
