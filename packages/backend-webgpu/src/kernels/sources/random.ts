import { sizeOf } from "@danlu/core"
import { inputOperand, type Launcher, outputOperand } from "../launch.js"
import { linearWorkgroups } from "../wgsl.js"
import { randomSource } from "./random.wgsl.js"

/** Fills the output from the Philox stream named by the u32[4] key input, bit-exact with the reference. */
export const random: Launcher<"random"> = (node, ctx) => {
  const count = sizeOf(node.shape)
  if (count === 0) return []
  return [
    {
      kind: "compute",
      pipeline: ctx.pipeline(randomSource(node.dtype, node.attrs.distribution)),
      operands: [outputOperand, inputOperand(0)],
      params: Uint32Array.of(count),
      workgroups: linearWorkgroups(Math.ceil(count / 4)),
    },
  ]
}
