import type { DType } from "../tensor/dtype.js"
import { record, Tensor } from "../tensor/tensor.js"
import { broadcastShapes, dtypeError, requireFloat, sameDType } from "./check.js"
import type { BinaryOp, UnaryOp } from "./primitives.js"
import { full } from "./sources.js"

/** A tensor, or a plain number that takes the dtype of the tensor it meets. */
export type TensorLike = Tensor | number

const unary =
  (op: UnaryOp) =>
  (x: Tensor): Tensor<UnaryOp> => {
    if (op !== "neg") requireFloat(op, x)
    else if (x.dtype === "bool" || x.dtype === "u32") dtypeError(op, "needs a signed input", x.dtype)
    return record(op, [x], {}, x.shape, x.dtype)
  }

export const neg = unary("neg")
export const exp = unary("exp")
export const log = unary("log")
export const sqrt = unary("sqrt")
export const recip = unary("recip")
export const sin = unary("sin")
export const cos = unary("cos")
export const erf = unary("erf")

const lift = (value: TensorLike, dtype: DType): Tensor =>
  value instanceof Tensor ? value : full(value, [], dtype)

const pair = (op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] => {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    dtypeError(op, "needs at least one tensor operand")
  }
  const dtype = a instanceof Tensor ? a.dtype : (b as Tensor).dtype
  return [lift(a, dtype), lift(b, dtype)]
}

const binary =
  (op: BinaryOp) =>
  (a: TensorLike, b: TensorLike): Tensor<BinaryOp> => {
    const [x, y] = pair(op, a, b)
    const dtype = sameDType(op, [x, y])
    if (dtype === "bool" && op !== "equal") dtypeError(op, "does not take bool inputs", dtype)
    const out: DType = op === "less" || op === "equal" ? "bool" : dtype
    return record(op, [x, y], {}, broadcastShapes(op, x.shape, y.shape), out)
  }

export const add = binary("add")
export const sub = binary("sub")
export const mul = binary("mul")
export const div = binary("div")
export const maximum = binary("maximum")
export const less = binary("less")
export const equal = binary("equal")

/** Elementwise choice: `a` where `condition` holds, else `b`. */
export const where = (condition: Tensor, a: TensorLike, b: TensorLike): Tensor<"where"> => {
  if (condition.dtype !== "bool") dtypeError("where", "the condition must be bool", condition.dtype)
  const [x, y] = pair("where", a, b)
  sameDType("where", [x, y])
  const shape = broadcastShapes("where", condition.shape, broadcastShapes("where", x.shape, y.shape))
  return record("where", [condition, x, y], {}, shape, x.dtype)
}

export const square = (x: Tensor): Tensor => mul(x, x)
export const rsqrt = (x: Tensor): Tensor => recip(sqrt(x))
export const sigmoid = (x: Tensor): Tensor => recip(add(exp(neg(x)), 1))
export const relu = (x: Tensor): Tensor => maximum(x, 0)
export const tanh = (x: Tensor): Tensor => sub(mul(sigmoid(mul(x, 2)), 2), 1)
export const minimum = (a: TensorLike, b: TensorLike): Tensor =>
  neg(maximum(neg(lift(a, dtypeOf(a, b))), neg(lift(b, dtypeOf(a, b)))))
export const clamp = (x: Tensor, lo: number, hi: number): Tensor => minimum(maximum(x, lo), hi)
export const greater = (a: TensorLike, b: TensorLike): Tensor => less(b, a)

const dtypeOf = (a: TensorLike, b: TensorLike): DType => (a instanceof Tensor ? a.dtype : (b as Tensor).dtype)
