import { sizeOf } from "@danlu/core"
import { collapseDims } from "../dims.js"
import { inputOperand, type Launcher, outputOperand } from "../launch.js"
import { contiguousStrides } from "../strided/stridedMap.js"
import { linearWorkgroups, spreadWorkgroups } from "../wgsl.js"
import { reduceSource } from "./reduce.wgsl.js"

/** Short reductions with many outputs run a thread per output; the rest a workgroup per output. */
const threadPerOutput = (outputs: number, reduced: number): boolean => reduced <= 64 || outputs >= 16384

/** sum and max over any set of dims, accumulating floats in f32. */
export const reduce =
  (op: "sum" | "max"): Launcher<"sum" | "max"> =>
  (node, ctx) => {
    const input = node.inputs[0]!
    const strides = contiguousStrides(input.shape)
    const axes = new Set(node.attrs.axes)
    const pick = (reduced: boolean) => {
      const dims = input.shape.flatMap((_, d) => (axes.has(d) === reduced ? [d] : []))
      const merged = collapseDims(
        dims.map((d) => input.shape[d]!),
        [dims.map((d) => strides[d]!)],
      )
      return { sizes: merged.dims, strides: merged.strides[0]! }
    }
    const kept = pick(false)
    const reduced = pick(true)
    const outputs = sizeOf(node.shape)
    const reducedCount = sizeOf(reduced.sizes)
    if (outputs === 0) return []
    const perOutput = threadPerOutput(outputs, reducedCount) ? "thread" : "workgroup"
    const source = reduceSource({
      op,
      dtype: node.dtype,
      keptRank: kept.sizes.length,
      reducedRank: reduced.sizes.length,
      perOutput,
    })
    return [
      {
        kind: "compute",
        pipeline: ctx.pipeline(source),
        operands: [outputOperand, inputOperand(0)],
        params: Uint32Array.from([
          outputs,
          reducedCount,
          ...kept.sizes,
          ...kept.strides,
          ...reduced.sizes,
          ...reduced.strides,
        ]),
        workgroups: perOutput === "thread" ? linearWorkgroups(outputs) : spreadWorkgroups(outputs),
      },
    ]
  }
