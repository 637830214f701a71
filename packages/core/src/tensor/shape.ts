/** A tensor shape: sizes from the outermost to the innermost (row-major) dimension. */
export type Shape = ReadonlyArray<number>

export const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1)

/** Row-major strides, in elements. */
export const stridesOf = (shape: Shape): Array<number> => {
  const strides = new Array<number>(shape.length)
  let stride = 1
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride
    stride *= shape[axis]!
  }
  return strides
}

export const sameShape = (a: Shape, b: Shape): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i])

export const formatShape = (shape: Shape): string => `[${shape.join(",")}]`
