import type { DType } from "@danlu/core"
import { rowNormalizeSource } from "./rowNormalize.wgsl.js"

/** Layer norm over the last dim: each row is one vector. Params: rows, D, eps. */
export const layerNormSource = (dtype: DType): string =>
  rowNormalizeSource(dtype, { setup: "", channel: "j", epsParam: 2 })
