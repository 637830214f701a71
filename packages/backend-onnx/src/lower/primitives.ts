import type { BinaryOp, DType, KernelOp, UnaryOp } from "@danlu/core"
import { computeType, ElemType } from "../onnx/elemType.js"
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight } from "./convolution.js"
import { type EmitContext, type Emitter, roundValue } from "./emitContext.js"
import { emitRandom } from "./philox.js"

const unaryOps: Readonly<Record<UnaryOp, string>> = {
  neg: "Neg",
  exp: "Exp",
  log: "Log",
  sqrt: "Sqrt",
  recip: "Reciprocal",
  sin: "Sin",
  cos: "Cos",
  erf: "Erf",
}

const binaryOps: Readonly<Record<BinaryOp, string>> = {
  add: "Add",
  sub: "Sub",
  mul: "Mul",
  div: "Div",
  maximum: "Max",
  less: "Less",
  equal: "Equal",
}

const unary =
  (op: UnaryOp): Emitter<UnaryOp> =>
  (ctx, _, [x]) =>
    ctx.b.op(unaryOps[op], [x!])

const binary =
  (op: BinaryOp): Emitter<BinaryOp> =>
  (ctx, _, [a, b]) =>
    ctx.b.op(binaryOps[op], [a!, b!])

/** ONNX Runtime's CPU reductions have no uint32 kernels; u32 reduces exactly in int64. */
const reduce =
  (opType: "ReduceSum" | "ReduceMax"): Emitter<"sum" | "max"> =>
  (ctx, node, [x]) => {
    if (node.attrs.axes.length === 0) return ctx.b.op("Identity", [x!])
    const inputs = [x!, ctx.b.int64s(node.attrs.axes)]
    const attrs = { keepdims: { int: node.attrs.keepDims ? 1 : 0 } }
    return node.dtype === "u32"
      ? ctx.widened(opType, inputs, attrs, [true, false], ElemType.INT64, ElemType.UINT32)
      : ctx.b.op(opType, inputs, attrs)
  }

/**
 * Float to integer truncates into int64 and keeps the low 32 bits, so out-of-range values wrap like the
 * reference's typed-array stores. The mask also keeps ONNX Runtime from fusing the two Casts into one
 * float → int32 Cast, which saturates instead.
 */
const castValue = (ctx: EmitContext, x: string, from: DType, to: DType): string => {
  const fromFloat = from === "f32" || from === "f16" || from === "bf16"
  if (to === "bool") return ctx.cast(x, ElemType.BOOL)
  if ((to === "i32" || to === "u32") && fromFloat) {
    const low = ctx.b.op("BitwiseAnd", [
      ctx.cast(x, ElemType.INT64),
      ctx.b.scalar(ElemType.INT64, 0xffffffff),
    ])
    const word = ctx.cast(low, ElemType.UINT32)
    return to === "u32" ? word : ctx.cast(word, ElemType.INT32)
  }
  if (to === "i32" || to === "u32") return ctx.cast(x, computeType[to])
  return ctx.round(fromFloat ? x : ctx.cast(x, ElemType.FLOAT), to)
}

/** The primitive op emitters (sources `input`/`state` are bound by the graph lowering). */
export const primitiveEmitters: { readonly [Op in KernelOp]: Emitter<Op> } = {
  constant: (ctx, node) =>
    ctx.b.constant(
      computeType[node.dtype],
      node.shape,
      node.attrs.values.map((v) => roundValue(node.dtype, v)),
    ),
  full: (ctx, node) => {
    const value = ctx.scalarOf(node.dtype, node.attrs.value)
    return node.shape.length === 0 ? value : ctx.b.op("Expand", [value, ctx.b.int64s(node.shape)])
  },
  random: emitRandom,
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
  where: (ctx, node, [condition, a, b]) => {
    // Where has no uint32 or bool kernels on the CPU provider.
    const wide = node.dtype === "u32" ? ElemType.INT64 : node.dtype === "bool" ? ElemType.UINT8 : undefined
    return wide === undefined
      ? ctx.b.op("Where", [condition!, a!, b!])
      : ctx.widened("Where", [condition!, a!, b!], {}, [false, true, true], wide, computeType[node.dtype])
  },
  sum: reduce("ReduceSum"),
  max: reduce("ReduceMax"),
  reshape: (ctx, node, [x]) => ctx.reshape(x!, node.shape),
  permute: (ctx, node, [x]) => ctx.transpose(x!, node.attrs.perm),
  expand: (ctx, node, [x]) => ctx.b.op("Expand", [x!, ctx.b.int64s(node.shape)]),
  slice: (ctx, node, [x]) => ctx.slice(x!, node.attrs.begin, node.attrs.end),
  concat: (ctx, node, inputs) => ctx.b.op("Concat", inputs, { axis: { int: node.attrs.axis } }),
  pad: (ctx, node, [x]) =>
    ctx.b.op("Pad", [
      x!,
      ctx.b.int64s([...node.attrs.before, ...node.attrs.after]),
      ctx.scalarOf(node.dtype, node.attrs.value),
    ]),
  gather: (ctx, node, [table, indices]) => {
    const index = node.inputs[1]!.dtype === "u32" ? ctx.cast(indices!, ElemType.INT64) : indices!
    return ctx.b.op("Gather", [table!, index], { axis: { int: 0 } })
  },
  matmul: (ctx, _, [a, b]) => ctx.b.op("MatMul", [a!, b!]),
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  upsampleNearest: (ctx, node, [x]) => {
    const shape = node.inputs[0]!.shape
    const [h, w] = shape.slice(-2) as [number, number]
    const planes = shape.slice(0, -2).reduce((p, d) => p * d, 1)
    const s = node.attrs.scale
    const spread = ctx.b.op("Expand", [
      ctx.reshape(x!, [planes, h, 1, w, 1]),
      ctx.b.int64s([planes, h, s, w, s]),
    ])
    return ctx.reshape(spread, node.shape)
  },
  cast: (ctx, node, [x]) => castValue(ctx, x!, node.inputs[0]!.dtype, node.dtype),
}

/**
 * Ops whose results are exactly values their inputs already hold (or literals rounded when emitted), so
 * 16-bit results need no rounding step after them.
 */
export const exactOps: ReadonlySet<string> = new Set([
  "constant",
  "full",
  "neg",
  "maximum",
  "where",
  "reshape",
  "permute",
  "expand",
  "slice",
  "concat",
  "pad",
  "gather",
  "upsampleNearest",
  "cast",
  "max",
])
