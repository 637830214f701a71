import { type Shape, sameShape, sizeOf } from "../tensor/shape.js"
import { record, type Tensor } from "../tensor/tensor.js"
import { checkDims, normalizeAxis, sameDType, shapeError } from "./check.js"
import { storedValue } from "./sources.js"

/** Same data, new shape; one dimension may be -1 and is inferred. */
export const reshape = (x: Tensor, shape: Shape): Tensor => {
  const known = shape.filter((d) => d !== -1)
  const inferred = shape.length - known.length
  if (inferred > 1) shapeError("reshape", "at most one dimension may be -1", x.shape, shape)
  const knownSize = sizeOf(known)
  const resolved =
    inferred === 1
      ? shape.map((d) => (d === -1 ? (knownSize === 0 ? 0 : sizeOf(x.shape) / knownSize) : d))
      : [...shape]
  checkDims("reshape", resolved)
  if (sizeOf(resolved) !== sizeOf(x.shape)) shapeError("reshape", "element counts differ", x.shape, shape)
  if (sameShape(resolved, x.shape)) return x
  return record("reshape", [x], { shape: resolved }, resolved, x.dtype)
}

/** Reorders axes: output axis i is input axis `perm[i]`. */
export const permute = (x: Tensor, perm: ReadonlyArray<number>): Tensor => {
  const resolved = perm.map((p) => normalizeAxis("permute", p, x.rank, x.shape))
  if (resolved.length !== x.rank || new Set(resolved).size !== x.rank) {
    shapeError("permute", `[${perm.join(",")}] is not a permutation of the axes`, x.shape)
  }
  if (resolved.every((p, i) => p === i)) return x
  return record(
    "permute",
    [x],
    { perm: resolved },
    resolved.map((p) => x.shape[p]!),
    x.dtype,
  )
}

/** Swaps two axes. */
export const transpose = (x: Tensor, a = -2, b = -1): Tensor => {
  const perm = x.shape.map((_, i) => i)
  const i = normalizeAxis("transpose", a, x.rank, x.shape)
  const j = normalizeAxis("transpose", b, x.rank, x.shape)
  perm[i] = j
  perm[j] = i
  return permute(x, perm)
}

/** Broadcasts size-1 (or missing leading) dimensions to `shape`. */
export const expand = (x: Tensor, shape: Shape): Tensor => {
  checkDims("expand", shape)
  if (shape.length < x.rank) shapeError("expand", "cannot drop dimensions", x.shape, shape)
  const offset = shape.length - x.rank
  x.shape.forEach((d, i) => {
    if (d !== 1 && d !== shape[offset + i])
      shapeError("expand", `dimension ${i} of size ${d} cannot expand`, x.shape, shape)
  })
  if (sameShape(x.shape, shape)) return x
  return record("expand", [x], { shape: [...shape] }, [...shape], x.dtype)
}

/** The box `begin ≤ index < end` (per axis, unit step). */
export const slice = (x: Tensor, begin: ReadonlyArray<number>, end: ReadonlyArray<number>): Tensor => {
  if (begin.length !== x.rank || end.length !== x.rank)
    shapeError("slice", "needs one begin and end per axis", x.shape)
  const b = begin.map((v, i) => (v < 0 ? v + x.shape[i]! : v))
  const e = end.map((v, i) => (v < 0 ? v + x.shape[i]! : Math.min(v, x.shape[i]!)))
  b.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v > e[i]! || !Number.isInteger(e[i]!)) {
      shapeError("slice", `bad range ${begin[i]}:${end[i]} on axis ${i}`, x.shape)
    }
  })
  if (b.every((v) => v === 0) && e.every((v, i) => v === x.shape[i])) return x
  return record(
    "slice",
    [x],
    { begin: b, end: e },
    e.map((v, i) => v - b[i]!),
    x.dtype,
  )
}

/** A range along one axis, the other axes whole. */
export const sliceAxis = (x: Tensor, axis: number, start: number, stop: number): Tensor => {
  const a = normalizeAxis("slice", axis, x.rank, x.shape)
  return slice(
    x,
    x.shape.map((_, i) => (i === a ? start : 0)),
    x.shape.map((d, i) => (i === a ? stop : d)),
  )
}

/** Splits one axis into `parts` equal pieces. */
export const chunk = (x: Tensor, parts: number, axis = -1): Array<Tensor> => {
  const a = normalizeAxis("chunk", axis, x.rank, x.shape)
  const size = x.shape[a]!
  if (size % parts !== 0)
    shapeError("chunk", `axis ${a} of size ${size} does not split into ${parts}`, x.shape)
  const step = size / parts
  return Array.from({ length: parts }, (_, i) => sliceAxis(x, a, i * step, (i + 1) * step))
}

/** Joins tensors along an axis; all other dimensions must agree. */
export const concat = (xs: ReadonlyArray<Tensor>, axis: number): Tensor => {
  if (xs.length === 0) shapeError("concat", "needs at least one tensor")
  const first = xs[0]!
  const a = normalizeAxis("concat", axis, first.rank, first.shape)
  const dtype = sameDType("concat", xs)
  for (const x of xs) {
    if (x.rank !== first.rank || x.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      shapeError("concat", `shapes differ off axis ${a}`, ...xs.map((t) => t.shape))
    }
  }
  if (xs.length === 1) return first
  const shape = first.shape.map((d, i) => (i === a ? xs.reduce((s, x) => s + x.shape[a]!, 0) : d))
  return record("concat", xs, { axis: a }, shape, dtype)
}

/** Pads each axis with `value`: `before[i]` elements in front, `after[i]` behind. */
export const pad = (
  x: Tensor,
  before: ReadonlyArray<number>,
  after: ReadonlyArray<number>,
  value = 0,
): Tensor => {
  if (before.length !== x.rank || after.length !== x.rank)
    shapeError("pad", "needs one amount per axis", x.shape)
  checkDims("pad", [...before, ...after])
  if (before.every((v) => v === 0) && after.every((v) => v === 0)) return x
  return record(
    "pad",
    [x],
    { before: [...before], after: [...after], value: storedValue(x.dtype, value) },
    x.shape.map((d, i) => d + before[i]! + after[i]!),
    x.dtype,
  )
}

/** Removes size-1 axes (all of them when `axes` is omitted). */
export const squeeze = (x: Tensor, axes?: ReadonlyArray<number>): Tensor => {
  const drop =
    axes?.map((a) => normalizeAxis("squeeze", a, x.rank, x.shape)) ??
    x.shape.flatMap((d, i) => (d === 1 ? [i] : []))
  return reshape(
    x,
    x.shape.filter((_, i) => !drop.includes(i)),
  )
}

/** Inserts a size-1 axis at `axis`. */
export const unsqueeze = (x: Tensor, axis: number): Tensor => {
  const a = normalizeAxis("unsqueeze", axis, x.rank + 1, x.shape)
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)])
}

export const flatten = (x: Tensor, startAxis = 0): Tensor => {
  const a = normalizeAxis("flatten", startAxis, x.rank, x.shape)
  return reshape(x, [...x.shape.slice(0, a), -1])
}
