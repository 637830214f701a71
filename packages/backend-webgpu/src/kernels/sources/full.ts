import { isFloat, sizeOf } from "@danlu/core"
import type { Launcher } from "../launch.js"
import { contiguousOut, stridedMap } from "../strided/stridedMap.js"
import { computeType } from "../wgsl.js"
import { literal } from "./constant.js"

/**
 * One value everywhere. Float fills pass the value as a parameter, so every fill of a dtype shares one
 * pipeline; integer fills are copied as literals, because the f32 parameter cannot hold every i32/u32.
 */
export const full: Launcher<"full"> = (node, ctx) =>
  isFloat(node.dtype)
    ? stridedMap(ctx, {
        shape: node.shape,
        out: contiguousOut(node.dtype, node.shape),
        inputs: [],
        expression: `${computeType(node.dtype)}(param(0u))`,
        params: [node.attrs.value],
      })
    : literal(node, new Array<number>(sizeOf(node.shape)).fill(node.attrs.value))
