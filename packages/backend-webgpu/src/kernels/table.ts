import { binary } from "./elementwise/binary.js"
import { cast } from "./elementwise/cast.js"
import { unary } from "./elementwise/unary.js"
import { where } from "./elementwise/where.js"
import { geglu, gelu, silu } from "./fused/activations.js"
import { attention } from "./fused/attention.js"
import { groupNorm } from "./fused/groupNorm.js"
import { layerNorm } from "./fused/layerNorm.js"
import { softmax } from "./fused/softmax.js"
import { gather } from "./indexing/gather.js"
import type { FusedLauncherTable, LauncherTable } from "./launch.js"
import { conv2d } from "./linalg/conv2d.js"
import { conv2dBackwardInput } from "./linalg/conv2dBackwardInput.js"
import { conv2dBackwardWeight } from "./linalg/conv2dBackwardWeight.js"
import { matmul } from "./linalg/matmul.js"
import { concat } from "./movement/concat.js"
import { expand } from "./movement/expand.js"
import { pad } from "./movement/pad.js"
import { permute } from "./movement/permute.js"
import { reshape } from "./movement/reshape.js"
import { slice } from "./movement/slice.js"
import { upsampleNearest } from "./movement/upsampleNearest.js"
import { reduce } from "./reduce/reduce.js"
import { constant } from "./sources/constant.js"
import { full } from "./sources/full.js"
import { random } from "./sources/random.js"

/** The WebGPU launcher of every primitive. */
export const launchers: LauncherTable = {
  constant,
  full,
  random,
  neg: unary("neg"),
  exp: unary("exp"),
  log: unary("log"),
  sqrt: unary("sqrt"),
  recip: unary("recip"),
  sin: unary("sin"),
  cos: unary("cos"),
  erf: unary("erf"),
  add: binary("add"),
  sub: binary("sub"),
  mul: binary("mul"),
  div: binary("div"),
  maximum: binary("maximum"),
  less: binary("less"),
  equal: binary("equal"),
  where,
  sum: reduce("sum"),
  max: reduce("max"),
  reshape,
  permute,
  expand,
  slice,
  concat,
  pad,
  gather,
  matmul,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  upsampleNearest,
  cast,
}

/** Composites with a fused kernel; the others run their decomposition. */
export const fusedLaunchers: FusedLauncherTable = {
  softmax,
  layerNorm,
  groupNorm,
  gelu,
  geglu,
  silu,
  attention,
}
