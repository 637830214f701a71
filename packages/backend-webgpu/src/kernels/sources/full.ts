import { isFloat, sizeOf, type Tensor } from "@danlu/core"
import type { Command, LaunchContext, Launcher } from "../launch.js"
import { contiguousOut, stridedMap } from "../strided/stridedMap.js"
import { computeType } from "../wgsl.js"
import { literal } from "./constant.js"

/**
 * Writes one value over a node's whole output. Float fills pass the value as a parameter, so every fill
 * of a dtype shares one pipeline; integer fills are copied as literals, because the f32 parameter
 * cannot hold every i32/u32.
 */
export const fillOutput = (node: Tensor, ctx: LaunchContext, value: number): ReadonlyArray<Command> =>
  isFloat(node.dtype)
    ? stridedMap(ctx, {
        shape: node.shape,
        out: contiguousOut(node.dtype, node.shape),
        inputs: [],
        expression: `${computeType(node.dtype)}(param(0u))`,
        params: [value],
      })
    : literal(node, new Array<number>(sizeOf(node.shape)).fill(value))

export const full: Launcher<"full"> = (node, ctx) => fillOutput(node, ctx, node.attrs.value)
