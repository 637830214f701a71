import type { UnaryOp } from "@danlu/core"
import type { Launcher } from "../launch.js"
import { inputOperand } from "../launch.js"
import { contiguousOut, contiguousStrides, stridedMap } from "../strided/stridedMap.js"
import { erfFunction } from "../wgsl.js"

const expressions: Record<UnaryOp, string> = {
  neg: "-v0",
  exp: "exp(v0)",
  log: "log(v0)",
  sqrt: "sqrt(v0)",
  recip: "1.0 / v0",
  sin: "sin(v0)",
  cos: "cos(v0)",
  erf: "erf_f32(v0)",
}

/** Unary math, computed in f32 (16-bit floats round once, on store). */
export const unary =
  (op: UnaryOp): Launcher<UnaryOp> =>
  (node, ctx) =>
    stridedMap(ctx, {
      shape: node.shape,
      out: contiguousOut(node.dtype, node.shape),
      inputs: [
        { operand: inputOperand(0), dtype: node.dtype, offset: 0, strides: contiguousStrides(node.shape) },
      ],
      expression: node.dtype === "u32" && op === "neg" ? "0u - v0" : expressions[op],
      functions: op === "erf" ? erfFunction : "",
    })
