import { inputOperand, type Launcher } from "../launch.js"
import { contiguousOut, contiguousStrides, stridedMap } from "../strided/stridedMap.js"
import { erfFunction } from "../wgsl.js"

const geluFunction = `${erfFunction}
fn gelu(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_f32(x * 0.7071067811865476)); }
`

/** Exact (erf) GELU in one pass. */
export const gelu: Launcher<"gelu"> = (node, ctx) =>
  stridedMap(ctx, {
    shape: node.shape,
    out: contiguousOut(node.dtype, node.shape),
    inputs: [
      { operand: inputOperand(0), dtype: node.dtype, offset: 0, strides: contiguousStrides(node.shape) },
    ],
    expression: "gelu(v0)",
    functions: geluFunction,
  })

/** SiLU, x·sigmoid(x), in one pass. */
export const silu: Launcher<"silu"> = (node, ctx) =>
  stridedMap(ctx, {
    shape: node.shape,
    out: contiguousOut(node.dtype, node.shape),
    inputs: [
      { operand: inputOperand(0), dtype: node.dtype, offset: 0, strides: contiguousStrides(node.shape) },
    ],
    expression: "v0 / (1.0 + exp(-v0))",
  })

/** GEGLU: the input's two halves read as two views of one buffer, hidden · gelu(gate), in one pass. */
export const geglu: Launcher<"geglu"> = (node, ctx) => {
  const half = node.shape[node.shape.length - 1]!
  const rowStrides = contiguousStrides(node.shape).map((s, d) => (d === node.shape.length - 1 ? 1 : s * 2))
  return stridedMap(ctx, {
    shape: node.shape,
    out: contiguousOut(node.dtype, node.shape),
    inputs: [
      { operand: inputOperand(0), dtype: node.dtype, offset: 0, strides: rowStrides },
      { operand: inputOperand(0), dtype: node.dtype, offset: half, strides: rowStrides },
    ],
    expression: "v0 * gelu(v1)",
    functions: geluFunction,
  })
}
