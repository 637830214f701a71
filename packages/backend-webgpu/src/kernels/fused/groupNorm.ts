import { sizeOf } from "@danlu/core"
import { inputOperand, type Launcher, outputOperand } from "../launch.js"
import { f32Bits, spreadWorkgroups } from "../wgsl.js"
import { groupNormSource } from "./groupNorm.wgsl.js"

/** Fused group norm: x [N C …], weight [C], bias [C]. */
export const groupNorm: Launcher<"groupNorm"> = (node, ctx) => {
  const [n, c] = node.shape as [number, number]
  const { groups, eps } = node.attrs
  const spatial = sizeOf(node.shape.slice(2))
  const rows = n * groups
  if (sizeOf(node.shape) === 0) return []
  return [
    {
      kind: "compute",
      pipeline: ctx.pipeline(groupNormSource(node.dtype)),
      operands: [outputOperand, inputOperand(0), inputOperand(1), inputOperand(2)],
      params: Uint32Array.of(rows, (c / groups) * spatial, spatial, c / groups, groups, f32Bits(eps)),
      workgroups: spreadWorkgroups(rows),
    },
  ]
}
