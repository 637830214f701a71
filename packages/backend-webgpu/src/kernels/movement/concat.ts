import { inputOperand, type Launcher, outputOperand } from "../launch.js"
import { contiguousStrides, stridedMap } from "../strided/stridedMap.js"

/** One map per input, each writing its box of the output (any number of inputs, one binding each). */
export const concat: Launcher<"concat"> = (node, ctx) => {
  const axis = node.attrs.axis
  const outStrides = contiguousStrides(node.shape)
  let start = 0
  return node.inputs.flatMap((input, i) => {
    const offset = start * outStrides[axis]!
    start += input.shape[axis]!
    return stridedMap(ctx, {
      shape: input.shape,
      out: { operand: outputOperand, dtype: node.dtype, offset, strides: outStrides },
      inputs: [
        { operand: inputOperand(i), dtype: node.dtype, offset: 0, strides: contiguousStrides(input.shape) },
      ],
      expression: "v0",
    })
  })
}
