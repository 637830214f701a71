import { sizeOf } from "@danlu/core"
import { inputOperand, type Launcher, outputOperand } from "../launch.js"
import { linearWorkgroups } from "../wgsl.js"
import { gatherSource } from "./gather.wgsl.js"

/** table [V, …] indexed by i32/u32 indices [...] → [..., …]. */
export const gather: Launcher<"gather"> = (node, ctx) => {
  const [table, indices] = node.inputs as [typeof node, typeof node]
  const count = sizeOf(node.shape)
  if (count === 0) return []
  const rows = table.shape[0]!
  const rowSize = sizeOf(table.shape.slice(1))
  return [
    {
      kind: "compute",
      pipeline: ctx.pipeline(gatherSource(node.dtype, indices.dtype === "u32" ? "u32" : "i32")),
      operands: [outputOperand, inputOperand(0), inputOperand(1)],
      params: Uint32Array.of(count, rowSize, rows),
      workgroups: linearWorkgroups(count),
    },
  ]
}
