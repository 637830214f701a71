import type { Kernel } from "../../backend/kernels.js"
import type { BinaryOp, UnaryOp } from "../../ops/primitives.js"
import type { RefArray } from "../storage.js"
import { erf } from "./erf.js"
import { broadcastStrides, forEachIndex } from "./indexing.js"

const unaryFunctions: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  recip: (x) => 1 / x,
  sin: Math.sin,
  cos: Math.cos,
  erf,
}

export const unaryKernel =
  (op: UnaryOp): Kernel<UnaryOp, RefArray> =>
  (_, [x], out) => {
    const f = unaryFunctions[op]
    for (let i = 0; i < out.length; i++) out[i] = f(x![i]!)
  }

const integerDivide = (a: number, b: number): number => Math.trunc(a / b)

const binaryFunctions: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b)),
  less: (a, b) => (a < b ? 1 : 0),
  equal: (a, b) => (a === b ? 1 : 0),
}

export const binaryKernel =
  (op: BinaryOp): Kernel<BinaryOp, RefArray> =>
  (node, [a, b], out) => {
    const [ta, tb] = node.inputs as [typeof node, typeof node]
    const integer = !(a instanceof Float64Array)
    // A product of two 32-bit integers can pass 2^53, where f64 loses the low bits the wrap keeps.
    const f =
      integer && op === "div" ? integerDivide : integer && op === "mul" ? Math.imul : binaryFunctions[op]
    const strides = [broadcastStrides(ta.shape, node.shape), broadcastStrides(tb.shape, node.shape)]
    forEachIndex(node.shape, strides, (position, offsets) => {
      out[position] = f(a![offsets[0]!]!, b![offsets[1]!]!)
    })
  }

export const whereKernel: Kernel<"where", RefArray> = (node, [condition, a, b], out) => {
  const shapes = node.inputs.map((t) => broadcastStrides(t.shape, node.shape))
  forEachIndex(node.shape, shapes, (position, offsets) => {
    out[position] = condition![offsets[0]!] ? a![offsets[1]!]! : b![offsets[2]!]!
  })
}
