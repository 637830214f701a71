import { inputOperand, type Launcher } from "../launch.js"
import { contiguousOut, contiguousStrides, stridedMap } from "../strided/stridedMap.js"

/**
 * Nearest upsampling by an integer scale s: the output [… H·s W·s] is the iteration space [… H s W s],
 * where the input is read with stride zero along both s dims.
 */
export const upsampleNearest: Launcher<"upsampleNearest"> = (node, ctx) => {
  const input = node.inputs[0]!
  const s = node.attrs.scale
  const lead = input.shape.slice(0, -2)
  const [h, w] = input.shape.slice(-2) as [number, number]
  const inStrides = contiguousStrides(input.shape)
  const shape = [...lead, h, s, w, s]
  return stridedMap(ctx, {
    shape,
    out: contiguousOut(node.dtype, shape),
    inputs: [
      {
        operand: inputOperand(0),
        dtype: node.dtype,
        offset: 0,
        strides: [...inStrides.slice(0, -2), w, 0, 1, 0],
      },
    ],
    expression: "v0",
  })
}
