import { sizeOf } from "@danlu/core"
import { inputOperand, type Launcher, outputOperand } from "../launch.js"
import { f32Bits, spreadWorkgroups } from "../wgsl.js"
import { layerNormSource } from "./layerNorm.wgsl.js"

/** Fused layer norm: x [… D], weight [D], bias [D]. */
export const layerNorm: Launcher<"layerNorm"> = (node, ctx) => {
  const size = node.shape[node.shape.length - 1]!
  const rows = sizeOf(node.shape.slice(0, -1))
  if (rows * size === 0) return []
  return [
    {
      kind: "compute",
      pipeline: ctx.pipeline(layerNormSource(node.dtype)),
      operands: [outputOperand, inputOperand(0), inputOperand(1), inputOperand(2)],
      params: Uint32Array.of(rows, size, f32Bits(node.attrs.eps)),
      workgroups: spreadWorkgroups(rows),
    },
  ]
}
