import { isFloat } from "@danlu/core"
import type { Launcher } from "../launch.js"
import { inputOperand } from "../launch.js"
import { contiguousOut, contiguousStrides, stridedMap } from "../strided/stridedMap.js"
import { computeType } from "../wgsl.js"

/**
 * Float → integer truncates toward zero (WGSL's conversion, saturating at the integer range); any → bool
 * is `x != 0`; i32 ↔ u32 reinterpret the bits, as typed-array stores do on the reference.
 */
export const cast: Launcher<"cast"> = (node, ctx) => {
  const from = node.inputs[0]!.dtype
  const to = node.attrs.dtype
  const zero = isFloat(from) ? "0.0" : from === "i32" ? "0i" : "0u"
  const expression =
    to === "bool"
      ? `u32(v0 != ${zero})`
      : (from === "i32" && to === "u32") || (from === "u32" && to === "i32")
        ? `bitcast<${to}>(v0)`
        : `${computeType(to)}(v0)`
  return stridedMap(ctx, {
    shape: node.shape,
    out: contiguousOut(to, node.shape),
    inputs: [{ operand: inputOperand(0), dtype: from, offset: 0, strides: contiguousStrides(node.shape) }],
    expression,
  })
}
