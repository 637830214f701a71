import type { Kernel } from "../../backend/kernels.js"
import type { RefArray } from "../storage.js"
import { broadcastStrides, forEachIndex } from "./indexing.js"

export const matmulKernel: Kernel<"matmul", RefArray> = (node, [a, b], out) => {
  const [ta, tb] = node.inputs as [typeof node, typeof node]
  const [m, k] = ta.shape.slice(-2) as [number, number]
  const n = tb.shape[tb.rank - 1]!
  const batch = node.shape.slice(0, -2)
  const strides = [
    broadcastStrides(ta.shape.slice(0, -2), batch).map((s) => s * m * k),
    broadcastStrides(tb.shape.slice(0, -2), batch).map((s) => s * k * n),
  ]
  forEachIndex(batch, strides, (position, offsets) => {
    const [oa, ob, oo] = [offsets[0]!, offsets[1]!, position * m * n]
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0
        for (let p = 0; p < k; p++) acc += a![oa + i * k + p]! * b![ob + p * n + j]!
        out[oo + i * n + j] = acc
      }
    }
  })
}
