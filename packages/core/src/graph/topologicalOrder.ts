import type { Tensor } from "../tensor/tensor.js"

/** Every node reachable from `roots`, inputs before the nodes that use them (iterative: graphs are deep). */
export const topologicalOrder = (roots: ReadonlyArray<Tensor>): Array<Tensor> => {
  const order: Array<Tensor> = []
  const seen = new Set<number>()
  const stack: Array<[Tensor, number]> = []
  for (const root of roots) {
    if (seen.has(root.id)) continue
    seen.add(root.id)
    stack.push([root, 0])
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const [node, next] = top
      if (next < node.inputs.length) {
        top[1] = next + 1
        const child = node.inputs[next]!
        if (!seen.has(child.id)) {
          seen.add(child.id)
          stack.push([child, 0])
        }
      } else {
        stack.pop()
        order.push(node)
      }
    }
  }
  return order
}
