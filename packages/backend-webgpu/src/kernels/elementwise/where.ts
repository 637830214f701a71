import type { Launcher } from "../launch.js"
import { inputOperand } from "../launch.js"
import { broadcastStrides, contiguousOut, stridedMap } from "../strided/stridedMap.js"

/** `condition ? a : b` with all three broadcast to the output. */
export const where: Launcher<"where"> = (node, ctx) =>
  stridedMap(ctx, {
    shape: node.shape,
    out: contiguousOut(node.dtype, node.shape),
    inputs: node.inputs.map((t, i) => ({
      operand: inputOperand(i),
      dtype: t.dtype,
      offset: 0,
      strides: broadcastStrides(t.shape, node.shape),
    })),
    expression: "select(v2, v1, v0 != 0u)",
  })
