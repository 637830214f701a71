import { type Shape, stridesOf } from "../../tensor/shape.js"

/** Strides of `from` laid against the axes of `to`, zero where `from` broadcasts. */
export const broadcastStrides = (from: Shape, to: Shape): Array<number> => {
  const strides = stridesOf(from)
  const lead = to.length - from.length
  return to.map((_, i) => (i < lead || from[i - lead] === 1 ? 0 : strides[i - lead]!))
}

/**
 * Visits every index of `shape` in row-major order, handing `visit` the output position and the
 * matching offset into each strided source.
 */
export const forEachIndex = (
  shape: Shape,
  sourceStrides: ReadonlyArray<ReadonlyArray<number>>,
  visit: (position: number, offsets: Int32Array | Float64Array) => void,
): void => {
  const rank = shape.length
  const total = shape.reduce((a, b) => a * b, 1)
  if (total === 0) return
  const counter = new Array<number>(rank).fill(0)
  const offsets = new Float64Array(sourceStrides.length)
  for (let position = 0; position < total; position++) {
    visit(position, offsets)
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++
      for (let s = 0; s < sourceStrides.length; s++) offsets[s]! += sourceStrides[s]![axis]!
      if (counter[axis]! < shape[axis]!) break
      for (let s = 0; s < sourceStrides.length; s++) offsets[s]! -= sourceStrides[s]![axis]! * shape[axis]!
      counter[axis] = 0
    }
  }
}
