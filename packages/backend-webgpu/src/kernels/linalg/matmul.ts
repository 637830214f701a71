import { sizeOf } from "@danlu/core"
import { collapseDims } from "../dims.js"
import type { Launcher } from "../launch.js"
import { broadcastStrides } from "../strided/stridedMap.js"
import { gemmCommand } from "./gemm.js"
import { matmulSource } from "./matmul.wgsl.js"

/** Batch dims are padded to this rank so one pipeline per dtype serves them all: GEMMs are slow to compile. */
const fixedBatchRank = 3

/** [… M K] × [… K N]: one tiled GEMM per output batch, batch dims broadcast through zero strides. */
export const matmul: Launcher<"matmul"> = (node, ctx) => {
  const [a, b] = node.inputs as [typeof node, typeof node]
  const [m, k] = a.shape.slice(-2) as [number, number]
  const n = b.shape[b.rank - 1]!
  const batch = node.shape.slice(0, -2)
  const { dims, strides } = collapseDims(batch, [
    broadcastStrides(a.shape.slice(0, -2), batch).map((s) => s * m * k),
    broadcastStrides(b.shape.slice(0, -2), batch).map((s) => s * k * n),
  ])
  const padding = new Array<number>(Math.max(0, fixedBatchRank - dims.length)).fill(0)
  const sizes = [...padding.map(() => 1), ...dims]
  return gemmCommand(
    ctx,
    matmulSource(node.dtype, sizes.length),
    [m, n, k],
    [...sizes, ...padding, ...strides[0]!, ...padding, ...strides[1]!],
    sizeOf(batch),
  )
}
