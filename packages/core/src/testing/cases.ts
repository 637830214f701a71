import { geglu, gelu, silu } from "../composites/activations.js"
import { attention } from "../composites/attention.js"
import { groupNorm } from "../composites/groupNorm.js"
import { layerNorm } from "../composites/layerNorm.js"
import { softmax } from "../composites/softmax.js"
import { cast } from "../ops/cast.js"
import {
  add,
  cos,
  div,
  equal,
  erf,
  exp,
  less,
  log,
  maximum,
  mul,
  neg,
  recip,
  sin,
  sqrt,
  sub,
  where,
} from "../ops/elementwise.js"
import { gather } from "../ops/indexing.js"
import {
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  convAttrs,
  matmul,
  upsampleNearest,
} from "../ops/linalg.js"
import { concat, expand, pad, permute, reshape, slice } from "../ops/movement.js"
import type { OpName } from "../ops/opName.js"
import { max, sum } from "../ops/reduce.js"
import { constant, full, random } from "../ops/sources.js"
import type { Tensor } from "../tensor/tensor.js"
import type { InputSpec, OpCase } from "./opCase.js"

const f = (...shape: Array<number>): InputSpec => ({ shape })
const positive = (...shape: Array<number>): InputSpec => ({
  shape,
  draw: { kind: "float", low: 0.5, high: 2 },
})
const index = (below: number, ...shape: Array<number>): InputSpec => ({
  shape,
  draw: { kind: "index", below },
})
const bool = (...shape: Array<number>): InputSpec => ({ shape, draw: { kind: "bool" } })
const x0 = (xs: ReadonlyArray<Tensor>): Tensor => xs[0]!
const x1 = (xs: ReadonlyArray<Tensor>): Tensor => xs[1]!
const x2 = (xs: ReadonlyArray<Tensor>): Tensor => xs[2]!

/** A permuted (non-contiguous in a strided backend) view, so kernels see transposed inputs. */
const transposed = (t: Tensor): Tensor => permute(t, [1, 0])

const unary = (
  name: string,
  op: (x: Tensor) => Tensor,
  input: InputSpec = f(3, 5),
): ReadonlyArray<OpCase> => [
  { name, inputs: [input], build: (xs) => op(x0(xs)) },
  { name: `${name} of a scalar`, inputs: [{ ...input, shape: [] }], build: (xs) => op(x0(xs)) },
]

const binary = (
  name: string,
  op: (a: Tensor, b: Tensor) => Tensor,
  rhs: (shape: Array<number>) => InputSpec = (s) => f(...s),
): ReadonlyArray<OpCase> => [
  { name, inputs: [f(2, 3), rhs([2, 3])], build: (xs) => op(x0(xs), x1(xs)) },
  {
    name: `${name} broadcast [2,1,4]·[3,1]`,
    inputs: [f(2, 1, 4), rhs([3, 1])],
    build: (xs) => op(x0(xs), x1(xs)),
  },
  { name: `${name} with a scalar`, inputs: [f(4), rhs([])], build: (xs) => op(x0(xs), x1(xs)) },
  {
    name: `${name} of a transposed input`,
    inputs: [f(3, 2), rhs([2, 3])],
    build: (xs) => op(transposed(x0(xs)), x1(xs)),
  },
]

const comparison = (name: string, op: (a: Tensor, b: Tensor) => Tensor): ReadonlyArray<OpCase> => [
  { name, inputs: [f(2, 3), f(2, 3)], build: (xs) => cast(op(x0(xs), x1(xs)), "f32"), differentiable: false },
  {
    name: `${name} of equal and broadcast values`,
    inputs: [f(3, 1), f(1, 4)],
    build: (xs) => cast(op(x0(xs), maximum(x1(xs), x0(xs))), "f32"),
    differentiable: false,
  },
]

const conv = convAttrs({ stride: 2, padding: 1 })

/**
 * Conformance cases for every op, primitive and composite. Typed per op, so a new op without cases does
 * not compile. Sizes are tiny: the suite runs on every backend in CI.
 */
export const conformanceCases: { readonly [Op in OpName]: ReadonlyArray<OpCase> } = {
  input: [{ name: "input passes through", inputs: [f(2, 3)], build: (xs) => mul(x0(xs), 1) }],
  state: [
    { name: "state passes through (bound as an input here)", inputs: [f(4)], build: (xs) => add(x0(xs), 0) },
  ],
  constant: [
    {
      name: "constant",
      inputs: [f(2, 2)],
      build: (xs, dtype) => add(x0(xs), constant([1.5, -2, 0.25, 3], [2, 2], dtype)),
    },
  ],
  full: [
    {
      name: "full broadcast",
      inputs: [f(2, 3)],
      build: (xs, dtype) => mul(x0(xs), full(-0.75, [1, 3], dtype)),
    },
    {
      name: "full of i32 values f32 cannot hold",
      inputs: [index(100, 4)],
      build: (xs) =>
        cast(sub(full(0x40000001, [4], "i32"), add(x0(xs), full(0x40000000, [4], "i32"))), "f32"),
      differentiable: false,
      dtypes: ["f32"],
    },
  ],
  random: [
    {
      name: "random uniform",
      inputs: [{ shape: [4], draw: { kind: "key" } }],
      build: (xs, dtype) => random(x0(xs), [3, 7], "uniform", dtype),
      differentiable: false,
    },
    {
      name: "random normal",
      inputs: [{ shape: [4], draw: { kind: "key" } }],
      build: (xs, dtype) => random(x0(xs), [2, 9], "normal", dtype),
      differentiable: false,
    },
  ],

  neg: unary("neg", neg),
  exp: unary("exp", exp),
  log: unary("log", log, positive(3, 5)),
  sqrt: unary("sqrt", sqrt, positive(3, 5)),
  recip: unary("recip", recip, positive(3, 5)),
  sin: unary("sin", sin),
  cos: unary("cos", cos),
  erf: unary("erf", erf, { shape: [4, 5], draw: { kind: "float", low: -3, high: 3 } }),

  add: binary("add", add),
  sub: binary("sub", sub),
  mul: binary("mul", mul),
  div: binary("div", div, (s) => positive(...s)),
  maximum: binary("maximum", maximum),
  less: comparison("less", less),
  equal: comparison("equal", equal),
  where: [
    { name: "where", inputs: [bool(2, 3), f(2, 3), f(2, 3)], build: (xs) => where(x0(xs), x1(xs), x2(xs)) },
    {
      name: "where broadcast",
      inputs: [bool(3, 1), f(1, 4), f(3, 4)],
      build: (xs) => where(x0(xs), x1(xs), x2(xs)),
    },
  ],

  sum: [
    { name: "sum over one axis", inputs: [f(3, 4, 5)], build: (xs) => sum(x0(xs), 1) },
    { name: "sum over all axes", inputs: [f(4, 6)], build: (xs) => sum(x0(xs)) },
    { name: "sum keepDims over two axes", inputs: [f(2, 3, 4)], build: (xs) => sum(x0(xs), [0, 2], true) },
    { name: "sum over a size-1 axis", inputs: [f(3, 1, 2)], build: (xs) => sum(x0(xs), 1) },
    { name: "sum of a transposed input", inputs: [f(4, 3)], build: (xs) => sum(transposed(x0(xs)), -1) },
    {
      name: "sum over 1000 elements",
      inputs: [f(2, 1000)],
      build: (xs) => sum(x0(xs), -1),
      toleranceScale: 10,
    },
  ],
  max: [
    { name: "max over one axis", inputs: [f(3, 4, 5)], build: (xs) => max(x0(xs), -1) },
    { name: "max over all axes keepDims", inputs: [f(4, 6)], build: (xs) => max(x0(xs), undefined, true) },
  ],

  reshape: [{ name: "reshape", inputs: [f(2, 3, 4)], build: (xs) => mul(reshape(x0(xs), [6, -1]), 2) }],
  permute: [
    { name: "permute rank 3", inputs: [f(2, 3, 4)], build: (xs) => permute(x0(xs), [2, 0, 1]) },
    { name: "permute rank 4", inputs: [f(2, 3, 2, 2)], build: (xs) => permute(x0(xs), [0, 2, 3, 1]) },
  ],
  expand: [
    { name: "expand size-1 dims", inputs: [f(3, 1)], build: (xs) => expand(x0(xs), [2, 3, 4]) },
    { name: "expand a scalar", inputs: [f()], build: (xs) => expand(x0(xs), [5]) },
  ],
  slice: [
    { name: "slice", inputs: [f(4, 5)], build: (xs) => slice(x0(xs), [1, 0], [3, 4]) },
    {
      name: "slice of a transposed input",
      inputs: [f(5, 4)],
      build: (xs) => slice(transposed(x0(xs)), [0, 2], [3, 5]),
    },
  ],
  concat: [
    {
      name: "concat with an empty piece",
      inputs: [f(2, 0), f(2, 3)],
      build: (xs) => concat([x0(xs), x1(xs)], 1),
    },
    { name: "concat axis 0", inputs: [f(2, 3), f(1, 3)], build: (xs) => concat([x0(xs), x1(xs)], 0) },
    {
      name: "concat three on the last axis",
      inputs: [f(2, 1), f(2, 3), f(2, 2)],
      build: (xs) => concat([...xs], -1),
    },
  ],
  pad: [
    { name: "pad", inputs: [f(2, 3)], build: (xs) => pad(x0(xs), [1, 0], [0, 2], 0) },
    {
      name: "pad with a value",
      inputs: [f(1, 2, 2)],
      build: (xs) => pad(x0(xs), [0, 1, 1], [0, 1, 1], -1.5),
    },
    {
      name: "pad i32 with a value f32 cannot hold",
      inputs: [index(100, 3)],
      build: (xs) => cast(sub(pad(x0(xs), [1], [1], 0x40000001), full(0x40000000, [5], "i32")), "f32"),
      differentiable: false,
      dtypes: ["f32"],
    },
  ],

  gather: [
    {
      name: "gather with u32 indices",
      inputs: [f(4, 2), { shape: [5], draw: { kind: "index", below: 4, dtype: "u32" } }],
      build: (xs) => gather(x0(xs), x1(xs)),
    },
    { name: "gather rows", inputs: [f(5, 3), index(5, 2, 4)], build: (xs) => gather(x0(xs), x1(xs)) },
    { name: "gather from a vector", inputs: [f(6), index(6, 3)], build: (xs) => gather(x0(xs), x1(xs)) },
  ],

  matmul: [
    { name: "matmul", inputs: [f(3, 4), f(4, 5)], build: (xs) => matmul(x0(xs), x1(xs)) },
    { name: "matmul batched", inputs: [f(2, 3, 4), f(2, 4, 2)], build: (xs) => matmul(x0(xs), x1(xs)) },
    {
      name: "matmul broadcast batch",
      inputs: [f(2, 1, 3, 4), f(3, 4, 2)],
      build: (xs) => matmul(x0(xs), x1(xs)),
    },
    {
      name: "matmul of transposed inputs",
      inputs: [f(4, 3), f(5, 4)],
      build: (xs) => matmul(transposed(x0(xs)), transposed(x1(xs))),
    },
    {
      name: "matmul with K = 64",
      inputs: [f(2, 64), f(64, 3)],
      build: (xs) => matmul(x0(xs), x1(xs)),
      toleranceScale: 4,
    },
  ],
  conv2d: [
    {
      name: "conv2d 3×3 pad 1",
      inputs: [f(1, 2, 5, 5), f(3, 2, 3, 3)],
      build: (xs) => conv2d(x0(xs), x1(xs), { padding: 1 }),
    },
    {
      name: "conv2d stride 2",
      inputs: [f(2, 2, 6, 5), f(2, 2, 3, 3)],
      build: (xs) => conv2d(x0(xs), x1(xs), conv),
    },
    { name: "conv2d 1×1", inputs: [f(1, 3, 4, 4), f(2, 3, 1, 1)], build: (xs) => conv2d(x0(xs), x1(xs)) },
    {
      name: "conv2d groups 2 dilation 2",
      inputs: [f(1, 4, 7, 7), f(4, 2, 3, 3)],
      build: (xs) => conv2d(x0(xs), x1(xs), { groups: 2, dilation: 2, padding: 2 }),
    },
    {
      name: "conv2d groups 2, stride (2,1), dilation (1,2), padding (0,2), odd sizes",
      inputs: [f(1, 4, 5, 6), f(2, 2, 2, 3)],
      build: (xs) => conv2d(x0(xs), x1(xs), { groups: 2, stride: [2, 1], dilation: [1, 2], padding: [0, 2] }),
    },
  ],
  conv2dBackwardInput: [
    {
      name: "conv2dBackwardInput stride 2",
      inputs: [f(2, 2, 3, 3), f(2, 3, 3, 3)],
      build: (xs) => conv2dBackwardInput(x0(xs), x1(xs), conv, [2, 3, 6, 5]),
    },
    // Stride 1 is a convolution with the turned kernel on ONNX Runtime where dy has as many pixels as
    // channels: padding, dilation and kernel shapes that change the turned padding, and the cases that keep
    // the transposed convolution.
    {
      name: "conv2dBackwardInput stride 1, 3×3 pad 1",
      inputs: [f(2, 3, 5, 4), f(3, 2, 3, 3)],
      build: (xs) => conv2dBackwardInput(x0(xs), x1(xs), convAttrs({ padding: 1 }), [2, 2, 5, 4]),
    },
    {
      name: "conv2dBackwardInput stride 1, 3×2 kernel, padding (0,1), dilation (2,1)",
      inputs: [f(1, 3, 2, 5), f(3, 2, 3, 2)],
      build: (xs) =>
        conv2dBackwardInput(x0(xs), x1(xs), convAttrs({ padding: [0, 1], dilation: [2, 1] }), [1, 2, 6, 4]),
    },
    {
      name: "conv2dBackwardInput stride 1, 1×1",
      inputs: [f(1, 4, 3, 3), f(4, 3, 1, 1)],
      build: (xs) => conv2dBackwardInput(x0(xs), x1(xs), convAttrs({}), [1, 3, 3, 3]),
    },
    {
      name: "conv2dBackwardInput stride 1, padding past the kernel",
      inputs: [f(1, 2, 7, 6), f(2, 2, 3, 3)],
      build: (xs) => conv2dBackwardInput(x0(xs), x1(xs), convAttrs({ padding: 3 }), [1, 2, 3, 2]),
    },
    {
      name: "conv2dBackwardInput stride 1, more channels than pixels",
      inputs: [f(1, 6, 2, 2), f(6, 2, 3, 3)],
      build: (xs) => conv2dBackwardInput(x0(xs), x1(xs), convAttrs({ padding: 1 }), [1, 2, 2, 2]),
    },
    {
      name: "conv2dBackwardInput stride 1, groups 2",
      inputs: [f(1, 4, 4, 4), f(4, 1, 3, 3)],
      build: (xs) => conv2dBackwardInput(x0(xs), x1(xs), convAttrs({ padding: 1, groups: 2 }), [1, 2, 4, 4]),
    },
  ],
  conv2dBackwardWeight: [
    {
      name: "conv2dBackwardWeight stride 2",
      inputs: [f(2, 3, 6, 5), f(2, 2, 3, 3)],
      build: (xs) => conv2dBackwardWeight(x0(xs), x1(xs), conv, [2, 3, 3, 3]),
    },
    // A 1×1 kernel at stride 1 is one matrix product on ONNX Runtime; at stride 2 it stays a convolution.
    {
      name: "conv2dBackwardWeight 1×1, two images",
      inputs: [f(2, 3, 4, 5), f(2, 4, 4, 5)],
      build: (xs) => conv2dBackwardWeight(x0(xs), x1(xs), convAttrs({}), [4, 3, 1, 1]),
    },
    {
      name: "conv2dBackwardWeight 1×1 stride 2",
      inputs: [f(2, 3, 5, 4), f(2, 2, 3, 2)],
      build: (xs) => conv2dBackwardWeight(x0(xs), x1(xs), convAttrs({ stride: 2 }), [2, 3, 1, 1]),
    },
  ],
  upsampleNearest: [
    { name: "upsampleNearest rank 5", inputs: [f(1, 2, 1, 2, 3)], build: (xs) => upsampleNearest(x0(xs), 2) },
    { name: "upsampleNearest ×2", inputs: [f(1, 2, 3, 2)], build: (xs) => upsampleNearest(x0(xs), 2) },
    { name: "upsampleNearest ×3", inputs: [f(2, 2, 2)], build: (xs) => upsampleNearest(x0(xs), 3) },
  ],

  cast: [
    {
      name: "cast to f32 and back",
      inputs: [f(2, 3)],
      build: (xs, dtype) => cast(mul(cast(x0(xs), "f32"), 3), dtype),
    },
    {
      name: "cast float to i32 truncates",
      inputs: [{ shape: [2, 4], draw: { kind: "float", low: -5, high: 5 } }],
      build: (xs) => cast(cast(x0(xs), "i32"), "f32"),
      differentiable: false,
      dtypes: ["f32"],
    },
    {
      name: "i32 products wrap",
      inputs: [index(2 ** 31, 6), index(2 ** 31, 6)],
      build: (xs) => cast(mul(x0(xs), x1(xs)), "f32"),
      differentiable: false,
      dtypes: ["f32"],
    },
    {
      name: "cast indices to float",
      inputs: [index(100, 6)],
      build: (xs, dtype) => cast(x0(xs), dtype),
      differentiable: false,
    },
  ],

  softmax: [
    { name: "softmax last axis", inputs: [f(3, 5)], build: (xs) => softmax(x0(xs), -1) },
    { name: "softmax axis 0", inputs: [f(4, 3)], build: (xs) => softmax(x0(xs), 0) },
  ],
  layerNorm: [
    {
      name: "layerNorm",
      inputs: [f(2, 3, 8), f(8), f(8)],
      build: (xs) => layerNorm(x0(xs), x1(xs), x2(xs), 1e-5),
    },
  ],
  groupNorm: [
    {
      name: "groupNorm 2 groups",
      inputs: [f(2, 4, 3, 3), f(4), f(4)],
      build: (xs) => groupNorm(x0(xs), 2, x1(xs), x2(xs), 1e-5),
    },
    {
      name: "groupNorm on [N C L]",
      inputs: [f(1, 6, 5), f(6), f(6)],
      build: (xs) => groupNorm(x0(xs), 3, x1(xs), x2(xs), 1e-6),
    },
  ],
  gelu: unary("gelu", gelu, { shape: [3, 5], draw: { kind: "float", low: -3, high: 3 } }),
  geglu: [{ name: "geglu", inputs: [f(2, 3, 8)], build: (xs) => geglu(x0(xs)) }],
  silu: unary("silu", silu, { shape: [3, 5], draw: { kind: "float", low: -4, high: 4 } }),
  attention: [
    {
      name: "attention",
      inputs: [f(2, 5, 4), f(2, 3, 4), f(2, 3, 6)],
      build: (xs) => attention(x0(xs), x1(xs), x2(xs)),
    },
    {
      name: "attention multi-head with scale",
      inputs: [f(1, 2, 4, 8), f(1, 2, 4, 8), f(1, 2, 4, 8)],
      build: (xs) => attention(x0(xs), x1(xs), x2(xs), { scale: 0.3 }),
    },
    {
      name: "attention with an additive mask",
      inputs: [f(1, 3, 4), f(1, 3, 4), f(1, 3, 4), f(3, 3)],
      build: (xs) => attention(x0(xs), x1(xs), x2(xs), { mask: xs[3]! }),
    },
    {
      name: "attention with a mask broadcast over heads and queries",
      inputs: [f(1, 2, 3, 4), f(1, 2, 5, 4), f(1, 2, 5, 4), f(1, 1, 5)],
      build: (xs) => attention(x0(xs), x1(xs), x2(xs), { mask: xs[3]! }),
    },
    {
      name: "attention with keys and values broadcast over the batch",
      inputs: [f(2, 3, 4), f(1, 5, 4), f(1, 5, 2)],
      build: (xs) => attention(x0(xs), x1(xs), x2(xs)),
    },
  ],
}
