export { geglu, gelu, silu } from "../composites/activations.js"
export { type AttentionOptions, attention } from "../composites/attention.js"
export { groupNorm } from "../composites/groupNorm.js"
export { layerNorm } from "../composites/layerNorm.js"
export { softmax } from "../composites/softmax.js"
export { cast } from "./cast.js"
export {
  add,
  clamp,
  cos,
  div,
  equal,
  erf,
  exp,
  greater,
  less,
  log,
  maximum,
  minimum,
  mul,
  neg,
  recip,
  relu,
  rsqrt,
  sigmoid,
  sin,
  sqrt,
  square,
  sub,
  type TensorLike,
  tanh,
  where,
} from "./elementwise.js"
export { gather } from "./indexing.js"
export {
  type ConvOptions,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  convAttrs,
  convOutputSize,
  matmul,
  upsampleNearest,
} from "./linalg.js"
export {
  chunk,
  concat,
  expand,
  flatten,
  pad,
  permute,
  reshape,
  slice,
  sliceAxis,
  squeeze,
  transpose,
  unsqueeze,
} from "./movement.js"
export { max, mean, sum } from "./reduce.js"
export { arange, constant, full, input, ones, random, state, zeros } from "./sources.js"
