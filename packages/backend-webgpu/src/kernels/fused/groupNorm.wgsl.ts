import type { DType } from "@danlu/core"
import { rowNormalizeSource } from "./rowNormalize.wgsl.js"

/**
 * Group norm of [N C …]: each row is one (sample, group), whose channels are contiguous.
 * Params: N·groups, group size (C/groups · spatial), spatial size, channels per group, groups, eps.
 */
export const groupNormSource = (dtype: DType): string =>
  rowNormalizeSource(dtype, {
    setup: "let spatial = params[2]; let first_channel = (row % params[4]) * params[3];",
    channel: "first_channel + j / spatial",
    epsParam: 5,
  })
