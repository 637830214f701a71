import type { Kernel } from "../../backend/kernels.js"
import { normalF32, uniformF32 } from "../../random/philox.js"
import type { RefArray } from "../storage.js"

export const constantKernel: Kernel<"constant", RefArray> = (node, _, out) => {
  out.set(node.attrs.values)
}

export const fullKernel: Kernel<"full", RefArray> = (node, _, out) => {
  out.fill(node.attrs.value)
}

export const randomKernel: Kernel<"random", RefArray> = (node, [key], out) => {
  const seed = [key![0]!, key![1]!] as const
  const offset = [key![2]!, key![3]!] as const
  const draw = node.attrs.distribution === "uniform" ? uniformF32 : normalF32
  out.set(draw(out.length, seed, offset))
}
