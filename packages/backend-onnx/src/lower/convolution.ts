import type { ConvAttrs } from "@danlu/core"
import { ElemType } from "../onnx/elemType.js"
import type { Attribute } from "../onnx/modelBuilder.js"
import type { EmitContext, Emitter } from "./emitContext.js"

const convGeometry = (attrs: ConvAttrs): Record<string, Attribute> => ({
  strides: { ints: attrs.stride },
  pads: { ints: [attrs.padding[0], attrs.padding[1], attrs.padding[0], attrs.padding[1]] },
  dilations: { ints: attrs.dilation },
  group: { int: attrs.groups },
})

export const conv2d: Emitter<"conv2d"> = (ctx, node, [x, w]) =>
  ctx.b.op("Conv", [x!, w!], convGeometry(node.attrs))

/**
 * [O, C, kh, kw] → [C, O, kh, kw] turned by 180°: the kernel whose convolution is the transposed one at stride 1.
 * The turn reverses each kh·kw window, done as a product with the reversal matrix: exact for finite weights,
 * and on ONNX Runtime ~4× faster than a Slice with negative steps.
 */
const flippedKernel = (ctx: EmitContext, w: string, [o, c, kh, kw]: ReadonlyArray<number>): string => {
  const swapped = ctx.transpose(w, [1, 0, 2, 3])
  const taps = kh! * kw!
  if (taps === 1) return swapped
  const reversal = Array.from({ length: taps * taps }, (_, i) =>
    Math.floor(i / taps) + (i % taps) === taps - 1 ? 1 : 0,
  )
  const windows = ctx.reshape(swapped, [c! * o!, taps])
  const turned = ctx.b.op("MatMul", [windows, ctx.b.constant(ElemType.FLOAT, [taps, taps], reversal)])
  return ctx.reshape(turned, [c!, o!, kh!, kw!])
}

/**
 * The input gradient is a transposed convolution with the forward weight, whose [O, C/g, kh, kw] layout
 * is ConvTranspose's [C_in, C_out/g, kh, kw]. `output_padding` restores the rows a strided forward
 * pass dropped. At stride 1 it may instead be a Conv with the turned kernel. ONNX Runtime's ConvTranspose
 * is a GEMM into a column buffer of C·kh·kw × N·H·W, then col2im; the turn reads and writes the O·C·kh·kw
 * weight twice. So the turn pays where dy has at least as many pixels (N·H·W) as channels (O): the SD1.5
 * UNet's 64² and 32² layers, where alone it took 32 against 52 ms (320 channels at 64², batch 1). Its 16²
 * and 8² layers keep ConvTranspose: 11 against 30 ms (1280 channels at 8²). The turn reads only the weight,
 * so it is placed `leading`: computed just before the Conv, not held from the start of the step.
 */
export const conv2dBackwardInput: Emitter<"conv2dBackwardInput"> = (ctx, node, [dy, w]) => {
  const { stride, padding, dilation, inputShape } = node.attrs
  const dyShape = node.inputs[0]!.shape
  const kernel = node.inputs[1]!.shape.slice(2)
  const flippedPadding = [0, 1].map((i) => dilation[i]! * (kernel[i]! - 1) - padding[i]!)
  const turnPays = dyShape[0]! * dyShape[2]! * dyShape[3]! >= dyShape[1]!
  if (
    turnPays &&
    node.attrs.groups === 1 &&
    stride.every((s) => s === 1) &&
    flippedPadding.every((p) => p >= 0)
  )
    return ctx.b.op(
      "Conv",
      [
        dy!,
        ctx.b.isEarly(w!)
          ? ctx.b.leading(() => flippedKernel(ctx, w!, node.inputs[1]!.shape))
          : flippedKernel(ctx, w!, node.inputs[1]!.shape),
      ],
      {
        strides: { ints: [1, 1] },
        pads: { ints: [...flippedPadding, ...flippedPadding] },
        dilations: { ints: dilation },
        group: { int: 1 },
      },
    )
  const outputPadding = [0, 1].map(
    (i) =>
      inputShape[2 + i]! -
      ((dyShape[2 + i]! - 1) * stride[i]! - 2 * padding[i]! + dilation[i]! * (kernel[i]! - 1) + 1),
  )
  return ctx.b.op("ConvTranspose", [dy!, w!], {
    ...convGeometry(node.attrs),
    output_padding: { ints: outputPadding },
  })
}

/**
 * The weight gradient as one grouped convolution with batch and channels swapped:
 * dw[o, c, ky, kx] = Σ_n,oy,ox x[n, g·cg + c, oy·s − p + ky·d, …] · dy[n, o, oy, ox], which is a
 * convolution of x (channels as batch, images as channels) with dy as the kernel, stride d and
 * dilation s. Extra rows past the kernel (from the far padding) are sliced off.
 */
export const conv2dBackwardWeight: Emitter<"conv2dBackwardWeight"> = (ctx, node, [x, dy]) => {
  const { stride, padding, dilation, groups, weightShape } = node.attrs
  const [n, c, h, w] = node.inputs[0]!.shape as [number, number, number, number]
  const [, outChannels, ho, wo] = node.inputs[1]!.shape as [number, number, number, number]
  const [, cg, kh, kw] = weightShape as [number, number, number, number]
  const pointwise =
    kh === 1 && kw === 1 && groups === 1 && stride.every((s) => s === 1) && padding.every((p) => p === 0)
  if (pointwise) {
    // A 1×1 kernel's gradient is one matrix product, dw = dy·xᵀ over every pixel of every image; as a
    // convolution with a whole image as its kernel it ran one matrix-vector product per channel.
    const pixels = (t: string, channels: number) =>
      ctx.reshape(ctx.transpose(t, [1, 0, 2, 3]), [channels, n * h * w])
    const grads = ctx.b.op("MatMul", [pixels(dy!, outChannels), ctx.transpose(pixels(x!, c), [1, 0])])
    return ctx.reshape(grads, weightShape)
  }
  const images = ctx.reshape(ctx.transpose(ctx.reshape(x!, [n, groups, c / groups, h, w]), [2, 1, 0, 3, 4]), [
    cg,
    groups * n,
    h,
    w,
  ])
  const kernels = ctx.transpose(dy!, [1, 0, 2, 3])
  const grads = ctx.b.op("Conv", [images, kernels], {
    strides: { ints: dilation },
    dilations: { ints: stride },
    pads: { ints: [padding[0], padding[1], padding[0], padding[1]] },
    group: { int: groups },
  })
  const rows = Math.floor((h + 2 * padding[0] - stride[0] * (ho - 1) - 1) / dilation[0]) + 1
  const cols = Math.floor((w + 2 * padding[1] - stride[1] * (wo - 1) - 1) / dilation[1]) + 1
  const trimmed =
    rows === kh && cols === kw ? grads : ctx.slice(grads, [0, 0, 0, 0], [cg, outChannels, kh, kw])
  return ctx.transpose(trimmed, [1, 0, 2, 3])
}
