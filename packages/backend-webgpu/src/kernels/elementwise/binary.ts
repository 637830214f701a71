import type { BinaryOp } from "@danlu/core"
import { isFloat } from "@danlu/core"
import type { Launcher } from "../launch.js"
import { inputOperand } from "../launch.js"
import { broadcastStrides, contiguousOut, stridedMap } from "../strided/stridedMap.js"
import { nanMaxFunction } from "../wgsl.js"

const expressions: Record<BinaryOp, string> = {
  add: "v0 + v1",
  sub: "v0 - v1",
  mul: "v0 * v1",
  div: "v0 / v1",
  maximum: "max(v0, v1)",
  less: "u32(v0 < v1)",
  equal: "u32(v0 == v1)",
}

/** NumPy-broadcast binary ops: each input is read through its own strides, zero along broadcast dims. */
export const binary =
  (op: BinaryOp): Launcher<BinaryOp> =>
  (node, ctx) => {
    const [a, b] = node.inputs as [typeof node, typeof node]
    const floatMax = op === "maximum" && isFloat(node.dtype)
    return stridedMap(ctx, {
      shape: node.shape,
      out: contiguousOut(node.dtype, node.shape),
      inputs: [a, b].map((t, i) => ({
        operand: inputOperand(i),
        dtype: t.dtype,
        offset: 0,
        strides: broadcastStrides(t.shape, node.shape),
      })),
      expression: floatMax ? "nan_max(v0, v1)" : expressions[op],
      functions: floatMax ? nanMaxFunction : "",
    })
  }
