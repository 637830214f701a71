import type { Launcher } from "../launch.js"
import { contiguousOut, stridedMap } from "../strided/stridedMap.js"
import { computeType } from "../wgsl.js"

/** One value everywhere; the value is a parameter, so every fill of a dtype shares one pipeline. */
export const full: Launcher<"full"> = (node, ctx) =>
  stridedMap(ctx, {
    shape: node.shape,
    out: contiguousOut(node.dtype, node.shape),
    inputs: [],
    expression: `${computeType(node.dtype)}(param(0u))`,
    params: [node.attrs.value],
  })
