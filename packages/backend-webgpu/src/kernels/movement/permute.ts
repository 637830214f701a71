import { inputOperand, type Launcher } from "../launch.js"
import { contiguousOut, contiguousStrides, stridedMap } from "../strided/stridedMap.js"

/** Output dim d walks input dim perm[d]. */
export const permute: Launcher<"permute"> = (node, ctx) => {
  const input = node.inputs[0]!
  const inStrides = contiguousStrides(input.shape)
  return stridedMap(ctx, {
    shape: node.shape,
    out: contiguousOut(node.dtype, node.shape),
    inputs: [
      {
        operand: inputOperand(0),
        dtype: node.dtype,
        offset: 0,
        strides: node.attrs.perm.map((p) => inStrides[p]!),
      },
    ],
    expression: "v0",
  })
}
