import type { KernelTable } from "../../backend/kernels.js"
import type { RefArray } from "../storage.js"
import { castKernel } from "./cast.js"
import { conv2dBackwardInputKernel, conv2dBackwardWeightKernel, conv2dKernel } from "./conv2d.js"
import { binaryKernel, unaryKernel, whereKernel } from "./elementwise.js"
import { matmulKernel } from "./matmul.js"
import {
  concatKernel,
  expandKernel,
  gatherKernel,
  padKernel,
  permuteKernel,
  reshapeKernel,
  sliceKernel,
  upsampleNearestKernel,
} from "./movement.js"
import { maxKernel, sumKernel } from "./reduce.js"
import { constantKernel, fullKernel, randomKernel } from "./sources.js"

/** The reference executor's kernels: plain loops in f64, the numerical truth for every backend. */
export const referenceKernels: KernelTable<RefArray> = {
  constant: constantKernel,
  full: fullKernel,
  random: randomKernel,
  neg: unaryKernel("neg"),
  exp: unaryKernel("exp"),
  log: unaryKernel("log"),
  sqrt: unaryKernel("sqrt"),
  recip: unaryKernel("recip"),
  sin: unaryKernel("sin"),
  cos: unaryKernel("cos"),
  erf: unaryKernel("erf"),
  add: binaryKernel("add"),
  sub: binaryKernel("sub"),
  mul: binaryKernel("mul"),
  div: binaryKernel("div"),
  maximum: binaryKernel("maximum"),
  less: binaryKernel("less"),
  equal: binaryKernel("equal"),
  where: whereKernel,
  sum: sumKernel,
  max: maxKernel,
  reshape: reshapeKernel,
  permute: permuteKernel,
  expand: expandKernel,
  slice: sliceKernel,
  concat: concatKernel,
  pad: padKernel,
  gather: gatherKernel,
  matmul: matmulKernel,
  conv2d: conv2dKernel,
  conv2dBackwardInput: conv2dBackwardInputKernel,
  conv2dBackwardWeight: conv2dBackwardWeightKernel,
  upsampleNearest: upsampleNearestKernel,
  cast: castKernel,
}
