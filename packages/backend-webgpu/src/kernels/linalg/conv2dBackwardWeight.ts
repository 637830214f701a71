import type { Launcher } from "../launch.js"
import { conv2dBackwardWeightSource } from "./conv2dBackwardWeight.wgsl.js"
import { convGeometryParams } from "./convGeometry.js"
import { gemmCommand } from "./gemm.js"

/** dw from (x, dy): GEMM of dy against the transposed im2col of x, summed over batch and pixels. */
export const conv2dBackwardWeight: Launcher<"conv2dBackwardWeight"> = (node, ctx) => {
  const [x, dy] = node.inputs as [typeof node, typeof node]
  const [o, cg, kh, kw] = node.attrs.weightShape as [number, number, number, number]
  const [batch, , ho, wo] = dy.shape as [number, number, number, number]
  const g = node.attrs.groups
  return gemmCommand(
    ctx,
    conv2dBackwardWeightSource(node.dtype),
    [o / g, cg * kh * kw, batch * ho * wo],
    convGeometryParams(x.shape, node.attrs.weightShape, dy.shape, node.attrs),
    g,
  )
}
