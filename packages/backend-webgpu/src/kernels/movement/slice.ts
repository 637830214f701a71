import { inputOperand, type Launcher } from "../launch.js"
import { contiguousOut, contiguousStrides, stridedMap } from "../strided/stridedMap.js"

/** A box of the input: its strides, starting at the box's first element. */
export const slice: Launcher<"slice"> = (node, ctx) => {
  const strides = contiguousStrides(node.inputs[0]!.shape)
  const offset = node.attrs.begin.reduce((sum, b, d) => sum + b * strides[d]!, 0)
  return stridedMap(ctx, {
    shape: node.shape,
    out: contiguousOut(node.dtype, node.shape),
    inputs: [{ operand: inputOperand(0), dtype: node.dtype, offset, strides }],
    expression: "v0",
  })
}
