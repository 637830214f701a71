import { sizeOf } from "@danlu/core"
import { collapseDims } from "../dims.js"
import { inputOperand, type Launcher, outputOperand } from "../launch.js"
import { broadcastStrides } from "../strided/stridedMap.js"
import { gemmWorkgroups } from "./gemm.wgsl.js"
import { matmulSource } from "./matmul.wgsl.js"

const fixedBatchRank = 3

/** [… M K] × [… K N]: one tiled GEMM per output batch, batch dims broadcast through zero strides. */
export const matmul: Launcher<"matmul"> = (node, ctx) => {
  const [a, b] = node.inputs as [typeof node, typeof node]
  const [m, k] = a.shape.slice(-2) as [number, number]
  const n = b.shape[b.rank - 1]!
  const batch = node.shape.slice(0, -2)
  const batches = sizeOf(batch)
  if (batches * m * n === 0) return []
  const { dims, strides } = collapseDims(batch, [
    broadcastStrides(a.shape.slice(0, -2), batch).map((s) => s * m * k),
    broadcastStrides(b.shape.slice(0, -2), batch).map((s) => s * k * n),
  ])
  // Padding the batch to a fixed rank keeps one pipeline per dtype: GEMMs are slow to compile.
  const padding = new Array<number>(Math.max(0, fixedBatchRank - dims.length)).fill(0)
  const sizes = [...padding.map(() => 1), ...dims]
  return [
    {
      kind: "compute",
      pipeline: ctx.pipeline(matmulSource(node.dtype, sizes.length)),
      operands: [outputOperand, inputOperand(0), inputOperand(1)],
      params: Uint32Array.from([m, n, k, ...sizes, ...padding, ...strides[0]!, ...padding, ...strides[1]!]),
      workgroups: gemmWorkgroups(m, n, batches),
    },
  ]
}
