import type { Launcher } from "../launch.js"
import { conv2dBackwardInputSource } from "./conv2dBackwardInput.wgsl.js"
import { convGeometryParams } from "./convGeometry.js"
import { gemmCommand } from "./gemm.js"

/** dx from (dy, w): GEMM of transposed weights against dy scattered back through the windows. */
export const conv2dBackwardInput: Launcher<"conv2dBackwardInput"> = (node, ctx) => {
  const [dy, w] = node.inputs as [typeof node, typeof node]
  const [batch, c, h, wd] = node.attrs.inputShape as [number, number, number, number]
  const [o, , kh, kw] = w.shape as [number, number, number, number]
  const g = node.attrs.groups
  return gemmCommand(
    ctx,
    conv2dBackwardInputSource(node.dtype),
    [c / g, batch * h * wd, (o / g) * kh * kw],
    convGeometryParams(node.attrs.inputShape, w.shape, dy.shape, node.attrs),
    g,
  )
}
