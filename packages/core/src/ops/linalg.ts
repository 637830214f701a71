import type { Shape } from "../tensor/shape.js"
import { record, type Tensor } from "../tensor/tensor.js"
import { broadcastShapes, requireFloat, sameDType, shapeError } from "./check.js"
import type { ConvAttrs } from "./primitives.js"

/** Batched matrix product `[… M K] × [… K N] → [… M N]`; leading dims broadcast. */
export const matmul = (a: Tensor, b: Tensor): Tensor<"matmul"> => {
  const dtype = sameDType("matmul", [a, b])
  requireFloat("matmul", a)
  if (a.rank < 2 || b.rank < 2)
    shapeError("matmul", "needs rank ≥ 2 inputs (reshape vectors)", a.shape, b.shape)
  const [m, k] = a.shape.slice(-2) as [number, number]
  const [k2, n] = b.shape.slice(-2) as [number, number]
  if (k !== k2) shapeError("matmul", `inner dimensions ${k} and ${k2} differ`, a.shape, b.shape)
  const batch = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2))
  return record("matmul", [a, b], {}, [...batch, m, n], dtype)
}

export interface ConvOptions {
  readonly stride?: number | readonly [number, number]
  readonly padding?: number | readonly [number, number]
  readonly dilation?: number | readonly [number, number]
  readonly groups?: number
}

const pairOf = (
  v: number | readonly [number, number] | undefined,
  fallback: number,
): readonly [number, number] => (v === undefined ? [fallback, fallback] : typeof v === "number" ? [v, v] : v)

export const convAttrs = (options: ConvOptions = {}): ConvAttrs => ({
  stride: pairOf(options.stride, 1),
  padding: pairOf(options.padding, 0),
  dilation: pairOf(options.dilation, 1),
  groups: options.groups ?? 1,
})

/** Output spatial size of a convolution along one axis. */
export const convOutputSize = (
  size: number,
  kernel: number,
  stride: number,
  padding: number,
  dilation: number,
): number => Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1

const convOutputShape = (op: string, x: Shape, w: Shape, attrs: ConvAttrs): Shape => {
  if (x.length !== 4 || w.length !== 4) shapeError(op, "needs x [N C H W] and w [O C/groups kh kw]", x, w)
  const [n, c, h, wd] = x as [number, number, number, number]
  const [o, cg, kh, kw] = w as [number, number, number, number]
  const geometry = [...attrs.stride, ...attrs.dilation, ...attrs.padding]
  if (
    !geometry.every(Number.isInteger) ||
    geometry.slice(0, 4).some((v) => v < 1) ||
    geometry.some((v) => v < 0)
  ) {
    shapeError(op, `stride and dilation must be integers ≥ 1 and padding an integer ≥ 0`, x, w)
  }
  const g = attrs.groups
  if (!Number.isInteger(g) || g < 1 || c % g !== 0 || o % g !== 0 || cg !== c / g) {
    shapeError(op, `channels ${c} → ${o} do not fit groups ${g} with weight channels ${cg}`, x, w)
  }
  const ho = convOutputSize(h, kh, attrs.stride[0], attrs.padding[0], attrs.dilation[0])
  const wo = convOutputSize(wd, kw, attrs.stride[1], attrs.padding[1], attrs.dilation[1])
  if (ho < 1 || wo < 1) shapeError(op, "the kernel is larger than the padded input", x, w)
  return [n, o, ho, wo]
}

/** 2-D convolution, NCHW activations and OIHW weights (add a bias separately). */
export const conv2d = (x: Tensor, w: Tensor, options: ConvOptions = {}): Tensor<"conv2d"> => {
  const dtype = sameDType("conv2d", [x, w])
  requireFloat("conv2d", x)
  const attrs = convAttrs(options)
  return record("conv2d", [x, w], attrs, convOutputShape("conv2d", x.shape, w.shape, attrs), dtype)
}

/** The gradient of conv2d with respect to its input (a transposed convolution). */
export const conv2dBackwardInput = (dy: Tensor, w: Tensor, attrs: ConvAttrs, inputShape: Shape): Tensor => {
  const dtype = sameDType("conv2dBackwardInput", [dy, w])
  const expected = convOutputShape("conv2dBackwardInput", inputShape, w.shape, attrs)
  if (expected.some((d, i) => d !== dy.shape[i])) {
    shapeError("conv2dBackwardInput", "dy does not match the forward output", dy.shape, expected)
  }
  return record(
    "conv2dBackwardInput",
    [dy, w],
    { ...attrs, inputShape: [...inputShape] },
    [...inputShape],
    dtype,
  )
}

/** The gradient of conv2d with respect to its weight. */
export const conv2dBackwardWeight = (x: Tensor, dy: Tensor, attrs: ConvAttrs, weightShape: Shape): Tensor => {
  const dtype = sameDType("conv2dBackwardWeight", [x, dy])
  const expected = convOutputShape("conv2dBackwardWeight", x.shape, weightShape, attrs)
  if (expected.some((d, i) => d !== dy.shape[i])) {
    shapeError("conv2dBackwardWeight", "dy does not match the forward output", dy.shape, expected)
  }
  return record(
    "conv2dBackwardWeight",
    [x, dy],
    { ...attrs, weightShape: [...weightShape] },
    [...weightShape],
    dtype,
  )
}

/** Nearest-neighbour upsampling of the last two dims by an integer factor. */
export const upsampleNearest = (x: Tensor, scale = 2): Tensor<"upsampleNearest"> => {
  if (x.rank < 2) shapeError("upsampleNearest", "needs rank ≥ 2", x.shape)
  if (!Number.isInteger(scale) || scale < 1)
    shapeError("upsampleNearest", `scale ${scale} must be a positive integer`, x.shape)
  const shape = x.shape.map((d, i) => (i >= x.rank - 2 ? d * scale : d))
  return record("upsampleNearest", [x], { scale }, shape, x.dtype)
}
