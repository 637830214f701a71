import type { Launcher } from "../launch.js"
import { conv2dSource } from "./conv2d.wgsl.js"
import { convGeometryParams } from "./convGeometry.js"
import { gemmCommand } from "./gemm.js"

/** y = conv2d(x, w): GEMM of [O/g, C/g·kh·kw] weights against the implicit im2col of x, per group. */
export const conv2d: Launcher<"conv2d"> = (node, ctx) => {
  const [x, w] = node.inputs as [typeof node, typeof node]
  const [batch, , ho, wo] = node.shape as [number, number, number, number]
  const [o, cg, kh, kw] = w.shape as [number, number, number, number]
  const g = node.attrs.groups
  return gemmCommand(
    ctx,
    conv2dSource(node.dtype),
    [o / g, batch * ho * wo, cg * kh * kw],
    convGeometryParams(x.shape, w.shape, node.shape, node.attrs),
    g,
  )
}
