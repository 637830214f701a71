import { topologicalOrder } from "../graph/topologicalOrder.js"
import { shapeError } from "../ops/check.js"
import { add } from "../ops/elementwise.js"
import { full, zeros } from "../ops/sources.js"
import { sameShape } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"
import { checkpointBlockOf } from "./checkpoint.js"
import { type VjpRule, vjpRules } from "./vjp.js"

/**
 * The cotangent of each tensor of `wrt` that some output depends on, by node id. Gradients do not flow
 * through `leaves` (a checkpointed block's inputs: the walk outside the block carries them on).
 */
const backward = (
  outputs: ReadonlyArray<Tensor>,
  cotangents: ReadonlyArray<Tensor>,
  wrt: ReadonlyArray<Tensor>,
  leaves: ReadonlySet<number> = new Set(),
): Map<number, Tensor> => {
  const order = topologicalOrder(outputs)
  const targets = new Set(wrt.map((t) => t.id))
  const onPath = new Set<number>()
  for (const node of order) {
    const reached = !leaves.has(node.id) && node.inputs.some((i) => onPath.has(i.id))
    if (targets.has(node.id) || reached) onPath.add(node.id)
  }

  const cotangent = new Map<number, Tensor>()
  const accumulate = (node: Tensor, g: Tensor): void => {
    if (!sameShape(g.shape, node.shape)) {
      shapeError(`grad of ${node.op}`, "a rule produced a gradient of the wrong shape", g.shape, node.shape)
    }
    const previous = cotangent.get(node.id)
    cotangent.set(node.id, previous ? add(previous, g) : g)
  }
  outputs.forEach((out, i) => {
    if (onPath.has(out.id)) accumulate(out, cotangents[i]!)
  })

  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!
    const g = cotangent.get(node.id)
    if (!g || leaves.has(node.id) || !node.inputs.some((input) => onPath.has(input.id))) continue
    const block = checkpointBlockOf(node)
    if (block) {
      // Differentiate a fresh copy of the block, so its forward activations need not live until now.
      const inner = [...new Set([...block.inputs.filter((t) => onPath.has(t.id)), ...wrt])]
      const blockInputs = new Set(block.inputs.map((t) => t.id))
      const grads = backward([block.recompute(block.inputs)], [g], inner, blockInputs)
      for (const t of inner) {
        const gi = grads.get(t.id)
        if (gi) accumulate(t, gi)
      }
      continue
    }
    const rule = vjpRules[node.op] as VjpRule<typeof node.op>
    const grads = rule(g, node)
    node.inputs.forEach((input, j) => {
      const gi = grads[j]
      if (gi && onPath.has(input.id)) accumulate(input, gi)
    })
  }
  return new Map(wrt.flatMap((t) => (cotangent.has(t.id) ? [[t.id, cotangent.get(t.id)!] as const] : [])))
}

/**
 * Reverse-mode autodiff on the graph: returns tensors computing d(outputs·cotangents)/d(wrt), recorded
 * as new nodes of the same graph. Only nodes that lie on a path from `wrt` to an output are
 * differentiated, so frozen weights and dead branches cost nothing; blocks made with `checkpoint` are
 * recomputed rather than kept.
 */
export const vjp = (
  outputs: ReadonlyArray<Tensor>,
  cotangents: ReadonlyArray<Tensor>,
  wrt: ReadonlyArray<Tensor>,
): Array<Tensor> => {
  const grads = backward(outputs, cotangents, wrt)
  return wrt.map((t) => grads.get(t.id) ?? zeros(t.shape, t.dtype))
}

/** Gradients of a scalar `loss` with respect to each tensor of `wrt`. */
export const grad = (loss: Tensor, wrt: ReadonlyArray<Tensor>): Array<Tensor> => {
  if (loss.shape.length !== 0)
    shapeError("grad", "the loss must be a scalar; sum or mean it first", loss.shape)
  return vjp([loss], [full(1, [], loss.dtype)], wrt)
}
