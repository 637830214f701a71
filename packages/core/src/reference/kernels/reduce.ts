import type { Kernel } from "../../backend/kernels.js"
import { stridesOf } from "../../tensor/shape.js"
import type { RefArray } from "../storage.js"
import { forEachIndex } from "./indexing.js"

/** Walks the input once, folding each element into the output position it reduces to. */
const reduceKernel =
  (initial: number, fold: (acc: number, x: number) => number): Kernel<"sum" | "max", RefArray> =>
  (node, [x], out) => {
    const input = node.inputs[0]!
    const keptShape = input.shape.map((d, i) => (node.attrs.axes.includes(i) ? 1 : d))
    const outStrides = stridesOf(keptShape).map((s, i) => (node.attrs.axes.includes(i) ? 0 : s))
    const acc = new Float64Array(out.length).fill(initial)
    forEachIndex(input.shape, [outStrides], (position, offsets) => {
      const o = offsets[0]!
      acc[o] = fold(acc[o]!, x![position]!)
    })
    for (let i = 0; i < out.length; i++) out[i] = acc[i]!
  }

export const sumKernel = reduceKernel(0, (acc, x) => acc + x)
export const maxKernel = reduceKernel(Number.NEGATIVE_INFINITY, (acc, x) =>
  Number.isNaN(acc) || Number.isNaN(x) ? Number.NaN : Math.max(acc, x),
)
