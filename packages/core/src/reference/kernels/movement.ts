import type { Kernel } from "../../backend/kernels.js"
import { stridesOf } from "../../tensor/shape.js"
import type { RefArray } from "../storage.js"
import { broadcastStrides, forEachIndex } from "./indexing.js"

export const reshapeKernel: Kernel<"reshape", RefArray> = (_, [x], out) => {
  out.set(x!)
}

export const permuteKernel: Kernel<"permute", RefArray> = (node, [x], out) => {
  const inStrides = stridesOf(node.inputs[0]!.shape)
  const strides = node.attrs.perm.map((p) => inStrides[p]!)
  forEachIndex(node.shape, [strides], (position, offsets) => {
    out[position] = x![offsets[0]!]!
  })
}

export const expandKernel: Kernel<"expand", RefArray> = (node, [x], out) => {
  forEachIndex(node.shape, [broadcastStrides(node.inputs[0]!.shape, node.shape)], (position, offsets) => {
    out[position] = x![offsets[0]!]!
  })
}

export const sliceKernel: Kernel<"slice", RefArray> = (node, [x], out) => {
  const inStrides = stridesOf(node.inputs[0]!.shape)
  const start = node.attrs.begin.reduce((s, b, i) => s + b * inStrides[i]!, 0)
  forEachIndex(node.shape, [inStrides], (position, offsets) => {
    out[position] = x![start + offsets[0]!]!
  })
}

export const concatKernel: Kernel<"concat", RefArray> = (node, inputs, out) => {
  const outStrides = stridesOf(node.shape)
  const axis = node.attrs.axis
  let offset = 0
  node.inputs.forEach((t, k) => {
    const data = inputs[k]!
    forEachIndex(t.shape, [outStrides], (position, offsets) => {
      out[offsets[0]! + offset * outStrides[axis]!] = data[position]!
    })
    offset += t.shape[axis]!
  })
}

export const padKernel: Kernel<"pad", RefArray> = (node, [x], out) => {
  out.fill(node.attrs.value)
  const outStrides = stridesOf(node.shape)
  const start = node.attrs.before.reduce((s, b, i) => s + b * outStrides[i]!, 0)
  forEachIndex(node.inputs[0]!.shape, [outStrides], (position, offsets) => {
    out[start + offsets[0]!] = x![position]!
  })
}

export const gatherKernel: Kernel<"gather", RefArray> = (node, [table, indices], out) => {
  const rows = node.inputs[0]!.shape[0]!
  const rowSize = table!.length / Math.max(rows, 1)
  for (let i = 0; i < indices!.length; i++) {
    const row = indices![i]!
    if (row < 0 || row >= rows)
      throw new RangeError(`[gather] index ${row} is outside the table's ${rows} rows`)
    for (let j = 0; j < rowSize; j++) out[i * rowSize + j] = table![row * rowSize + j]!
  }
}

export const upsampleNearestKernel: Kernel<"upsampleNearest", RefArray> = (node, [x], out) => {
  const s = node.attrs.scale
  const [h, w] = node.inputs[0]!.shape.slice(-2) as [number, number]
  const planes = x!.length / (h * w)
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < h * s; i++) {
      for (let j = 0; j < w * s; j++) {
        out[p * h * w * s * s + i * w * s + j] = x![p * h * w + Math.floor(i / s) * w + Math.floor(j / s)]!
      }
    }
  }
}
