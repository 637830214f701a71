import type { DType } from "../tensor/dtype.js"
import { fromBF16Bits, fromF16Bits } from "../tensor/halfFloat.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import { formatShape, type Shape, sameShape } from "../tensor/shape.js"

/** `|actual − expected| ≤ atol + rtol·|expected|`, element by element. */
export interface Tolerance {
  readonly atol: number
  readonly rtol: number
}

export const defaultTolerances: Readonly<Record<DType, Tolerance>> = {
  f32: { atol: 1e-5, rtol: 1e-4 },
  f16: { atol: 2e-2, rtol: 1e-2 },
  bf16: { atol: 1e-1, rtol: 4e-2 },
  i32: { atol: 0, rtol: 0 },
  u32: { atol: 0, rtol: 0 },
  bool: { atol: 0, rtol: 0 },
}

export const hostValues = (tensor: HostTensor): Float64Array => {
  if (tensor.dtype === "f16") return Float64Array.from(tensor.data as Uint16Array, fromF16Bits)
  if (tensor.dtype === "bf16") return Float64Array.from(tensor.data as Uint16Array, fromBF16Bits)
  return Float64Array.from(tensor.data)
}

/**
 * Compares shape, then dtype, then values, and returns a message naming the worst element, or
 * undefined when everything is within tolerance.
 */
export const compareTensor = (
  label: string,
  actual: HostTensor,
  expected: { readonly shape: Shape; readonly dtype: DType; readonly values: ArrayLike<number> },
  tolerance: Tolerance,
): string | undefined => {
  if (!sameShape(actual.shape, expected.shape)) {
    return `${label}: shape ${formatShape(actual.shape)}, expected ${formatShape(expected.shape)}`
  }
  if (actual.dtype !== expected.dtype) return `${label}: dtype ${actual.dtype}, expected ${expected.dtype}`
  const values = hostValues(actual)
  let worst = -1
  let worstExcess = 0
  for (let i = 0; i < values.length; i++) {
    const a = values[i]!
    const e = expected.values[i]!
    const excess = Math.abs(a - e) - (tolerance.atol + tolerance.rtol * Math.abs(e))
    const bad =
      Number.isNaN(a) !== Number.isNaN(e) ||
      excess > 0 ||
      (Number.isNaN(excess) && !(Number.isNaN(a) && Number.isNaN(e)))
    if (bad && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i
      worstExcess = excess
    }
  }
  if (worst < 0) return undefined
  return `${label}: element ${worst} is ${values[worst]}, expected ${expected.values[worst]} (atol ${tolerance.atol}, rtol ${tolerance.rtol})`
}
