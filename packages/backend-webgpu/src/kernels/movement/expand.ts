import { inputOperand, type Launcher } from "../launch.js"
import { broadcastStrides, contiguousOut, stridedMap } from "../strided/stridedMap.js"

/** Broadcast to a larger shape: stride zero along every expanded dim. */
export const expand: Launcher<"expand"> = (node, ctx) =>
  stridedMap(ctx, {
    shape: node.shape,
    out: contiguousOut(node.dtype, node.shape),
    inputs: [
      {
        operand: inputOperand(0),
        dtype: node.dtype,
        offset: 0,
        strides: broadcastStrides(node.inputs[0]!.shape, node.shape),
      },
    ],
    expression: "v0",
  })
