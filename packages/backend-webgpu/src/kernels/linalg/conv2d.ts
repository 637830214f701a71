import { inputOperand, type Launcher, outputOperand } from "../launch.js"
import { conv2dSource } from "./conv2d.wgsl.js"
import { conv2dBackwardInputSource } from "./conv2dBackwardInput.wgsl.js"
import { conv2dBackwardWeightSource } from "./conv2dBackwardWeight.wgsl.js"
import { convGeometryParams } from "./convGeometry.js"
import { gemmWorkgroups } from "./gemm.wgsl.js"

const gemm = (
  ctx: Parameters<Launcher<"conv2d">>[1],
  source: string,
  [m, n, k]: readonly [number, number, number],
  geometry: ReadonlyArray<number>,
  groups: number,
) =>
  m * n === 0
    ? []
    : [
        {
          kind: "compute" as const,
          pipeline: ctx.pipeline(source),
          operands: [outputOperand, inputOperand(0), inputOperand(1)],
          params: Uint32Array.from([m, n, k, ...geometry]),
          workgroups: gemmWorkgroups(m, n, groups),
        },
      ]

/** y = conv2d(x, w): GEMM of [O/g, C/g·kh·kw] weights against the implicit im2col of x, per group. */
export const conv2d: Launcher<"conv2d"> = (node, ctx) => {
  const [x, w] = node.inputs as [typeof node, typeof node]
  const [batch, , ho, wo] = node.shape as [number, number, number, number]
  const [o, cg, kh, kw] = w.shape as [number, number, number, number]
  const g = node.attrs.groups
  return gemm(
    ctx,
    conv2dSource(node.dtype),
    [o / g, batch * ho * wo, cg * kh * kw],
    convGeometryParams(x.shape, w.shape, node.shape, node.attrs),
    g,
  )
}

/** dx from (dy, w): GEMM of transposed weights against dy scattered back through the windows. */
export const conv2dBackwardInput: Launcher<"conv2dBackwardInput"> = (node, ctx) => {
  const [dy, w] = node.inputs as [typeof node, typeof node]
  const [batch, c, h, wd] = node.attrs.inputShape as [number, number, number, number]
  const [o, , kh, kw] = w.shape as [number, number, number, number]
  const g = node.attrs.groups
  return gemm(
    ctx,
    conv2dBackwardInputSource(node.dtype),
    [c / g, batch * h * wd, (o / g) * kh * kw],
    convGeometryParams(node.attrs.inputShape, w.shape, dy.shape, node.attrs),
    g,
  )
}

/** dw from (x, dy): GEMM of dy against the transposed im2col of x, summed over batch and pixels. */
export const conv2dBackwardWeight: Launcher<"conv2dBackwardWeight"> = (node, ctx) => {
  const [x, dy] = node.inputs as [typeof node, typeof node]
  const [o, cg, kh, kw] = node.attrs.weightShape as [number, number, number, number]
  const [batch, , ho, wo] = dy.shape as [number, number, number, number]
  const g = node.attrs.groups
  return gemm(
    ctx,
    conv2dBackwardWeightSource(node.dtype),
    [o / g, cg * kh * kw, batch * ho * wo],
    convGeometryParams(x.shape, node.attrs.weightShape, dy.shape, node.attrs),
    g,
  )
}
