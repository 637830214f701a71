import type { Kernel } from "../../backend/kernels.js"
import type { ConvAttrs } from "../../ops/primitives.js"
import type { Shape } from "../../tensor/shape.js"
import type { RefArray } from "../storage.js"

/**
 * Visits every (output position, kernel tap) pair of a convolution whose tap lands inside the input,
 * with flat indices into x, w and y. The three conv kernels are this one loop with different updates.
 */
const forEachTap = (
  x: Shape,
  w: Shape,
  y: Shape,
  attrs: ConvAttrs,
  visit: (xi: number, wi: number, yi: number) => void,
): void => {
  const [batch, channels, h, wd] = x as [number, number, number, number]
  const [outChannels, groupChannels, kh, kw] = w as [number, number, number, number]
  const [, , ho, wo] = y as [number, number, number, number]
  const [sh, sw] = attrs.stride
  const [ph, pw] = attrs.padding
  const [dh, dw] = attrs.dilation
  const outPerGroup = outChannels / attrs.groups
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < outChannels; o++) {
      const group = Math.floor(o / outPerGroup)
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          const yi = ((n * outChannels + o) * ho + oy) * wo + ox
          for (let c = 0; c < groupChannels; c++) {
            const ci = group * groupChannels + c
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh - ph + ky * dh
              if (iy < 0 || iy >= h) continue
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * sw - pw + kx * dw
                if (ix < 0 || ix >= wd) continue
                visit(
                  ((n * channels + ci) * h + iy) * wd + ix,
                  ((o * groupChannels + c) * kh + ky) * kw + kx,
                  yi,
                )
              }
            }
          }
        }
      }
    }
  }
}

const accumulate = (out: RefArray, compute: (acc: Float64Array) => void): void => {
  const acc = new Float64Array(out.length)
  compute(acc)
  out.set(acc)
}

export const conv2dKernel: Kernel<"conv2d", RefArray> = (node, [x, w], out) => {
  const [tx, tw] = node.inputs as [typeof node, typeof node]
  accumulate(out, (acc) =>
    forEachTap(tx.shape, tw.shape, node.shape, node.attrs, (xi, wi, yi) => {
      acc[yi] = acc[yi]! + x![xi]! * w![wi]!
    }),
  )
}

export const conv2dBackwardInputKernel: Kernel<"conv2dBackwardInput", RefArray> = (node, [dy, w], out) => {
  const [tdy, tw] = node.inputs as [typeof node, typeof node]
  accumulate(out, (acc) =>
    forEachTap(node.attrs.inputShape, tw.shape, tdy.shape, node.attrs, (xi, wi, yi) => {
      acc[xi] = acc[xi]! + dy![yi]! * w![wi]!
    }),
  )
}

export const conv2dBackwardWeightKernel: Kernel<"conv2dBackwardWeight", RefArray> = (node, [x, dy], out) => {
  const [tx, tdy] = node.inputs as [typeof node, typeof node]
  accumulate(out, (acc) =>
    forEachTap(tx.shape, node.attrs.weightShape, tdy.shape, node.attrs, (xi, wi, yi) => {
      acc[wi] = acc[wi]! + x![xi]! * dy![yi]!
    }),
  )
}
