import type { Kernel } from "../../backend/kernels.js"
import type { RefArray } from "../storage.js"

/** Float → integer truncates toward zero; any → bool is `x != 0`; typed-array stores wrap integers. */
export const castKernel: Kernel<"cast", RefArray> = (node, [x], out) => {
  const to = node.attrs.dtype
  if (to === "bool") for (let i = 0; i < out.length; i++) out[i] = x![i] !== 0 ? 1 : 0
  else if (to === "i32" || to === "u32") for (let i = 0; i < out.length; i++) out[i] = Math.trunc(x![i]!)
  else out.set(x!)
}
