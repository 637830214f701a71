import { sizeOf } from "@danlu/core"
import { inputOperand, type Launcher, outputOperand } from "../launch.js"
import { spreadWorkgroups } from "../wgsl.js"
import { softmaxSource } from "./softmax.wgsl.js"

/** Fused softmax along any axis. */
export const softmax: Launcher<"softmax"> = (node, ctx) => {
  const axis = node.attrs.axis
  const size = node.shape[axis]!
  const inner = sizeOf(node.shape.slice(axis + 1))
  const rows = sizeOf(node.shape) / Math.max(size, 1)
  if (sizeOf(node.shape) === 0) return []
  return [
    {
      kind: "compute",
      pipeline: ctx.pipeline(softmaxSource(node.dtype)),
      operands: [outputOperand, inputOperand(0)],
      params: Uint32Array.of(rows, size, inner),
      workgroups: spreadWorkgroups(rows),
    },
  ]
}
