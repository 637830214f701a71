import type { Command, LaunchContext } from "../launch.js"
import { inputOperand, outputOperand } from "../launch.js"
import { gemmWorkgroups } from "./gemm.wgsl.js"

/** The dispatch of a GEMM kernel over (output, input 0, input 1), or none for an empty output. */
export const gemmCommand = (
  ctx: LaunchContext,
  source: string,
  [m, n, k]: readonly [number, number, number],
  params: ReadonlyArray<number>,
  batches: number,
): ReadonlyArray<Command> => {
  if (m * n * batches === 0) return []
  const limit = ctx.limits.maxComputeWorkgroupsPerDimension
  if (batches > limit) {
    throw new Error(`${batches} batches exceed this device's maxComputeWorkgroupsPerDimension of ${limit}`)
  }
  return [
    {
      kind: "compute",
      pipeline: ctx.pipeline(source),
      operands: [outputOperand, inputOperand(0), inputOperand(1)],
      params: Uint32Array.from([m, n, k, ...params]),
      workgroups: gemmWorkgroups(m, n, batches),
    },
  ]
}
