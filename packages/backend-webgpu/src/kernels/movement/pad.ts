import { inputOperand, type Launcher, outputOperand } from "../launch.js"
import { fillOutput } from "../sources/full.js"
import { contiguousStrides, stridedMap } from "../strided/stridedMap.js"

/** Fills the output with the pad value, then writes the input into its box. */
export const pad: Launcher<"pad"> = (node, ctx) => {
  const input = node.inputs[0]!
  const outStrides = contiguousStrides(node.shape)
  const offset = node.attrs.before.reduce((sum, b, d) => sum + b * outStrides[d]!, 0)
  return [
    ...fillOutput(node, ctx, node.attrs.value),
    ...stridedMap(ctx, {
      shape: input.shape,
      out: { operand: outputOperand, dtype: node.dtype, offset, strides: outStrides },
      inputs: [
        { operand: inputOperand(0), dtype: node.dtype, offset: 0, strides: contiguousStrides(input.shape) },
      ],
      expression: "v0",
    }),
  ]
}
