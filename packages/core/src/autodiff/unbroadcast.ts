import { reshape } from "../ops/movement.js"
import { sum } from "../ops/reduce.js"
import { type Shape, sameShape } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"

/** Sums a gradient of a broadcast result back down to the shape of the operand that was broadcast. */
export const unbroadcast = (g: Tensor, shape: Shape): Tensor => {
  if (sameShape(g.shape, shape)) return g
  const lead = g.rank - shape.length
  const axes: Array<number> = []
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i)
  }
  return reshape(axes.length > 0 ? sum(g, axes, true) : g, shape)
}
