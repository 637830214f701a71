import type { Tensor } from "../tensor/tensor.js"

/**
 * Every node reachable from `roots`, inputs before the nodes that use them (iterative: graphs are deep). The
 * walk neither lists nor descends into a node that `done` accepts, so what lies only below such nodes is left
 * out too.
 */
export const topologicalOrder = (
  roots: ReadonlyArray<Tensor>,
  done: (node: Tensor) => boolean = () => false,
): Array<Tensor> => {
  const order: Array<Tensor> = []
  const seen = new Set<number>()
  const stack: Array<[Tensor, number]> = []
  for (const root of roots) {
    if (seen.has(root.id) || done(root)) continue
    seen.add(root.id)
    stack.push([root, 0])
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const [node, next] = top
      if (next < node.inputs.length) {
        top[1] = next + 1
        const child = node.inputs[next]!
        if (!seen.has(child.id) && !done(child)) {
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
