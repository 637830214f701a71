import { add, mul, sub } from "../ops/elementwise.js"
import { concat, reshape, sliceAxis } from "../ops/movement.js"
import { sum } from "../ops/reduce.js"
import { zeros } from "../ops/sources.js"
import { sizeOf } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"

/**
 * A sampler's update on the device gives the latents the host samplers give: there, a·x + b·y + … is
 * worked out in f64 with f64 coefficients and rounded to f32 once. f32 kernels get the same f32 value
 * (but for ties met with odds near 2^-20 per element) by making every product exact and adding them
 * without losing their errors: each coefficient comes as `COEFFICIENT_PIECES` pieces of at most 12
 * significant bits (their sum is the coefficient to 2^-48), each latent value is split on the device
 * into two halves of at most 12 bits (Veltkamp), so every piece · half product fits f32's 24 bits, and
 * the products are summed with Knuth's TwoSum, their rounding errors summed aside (as in Ogita–Rump–Oishi
 * Sum2, pairwise).
 */
export const COEFFICIENT_PIECES = 4

// Veltkamp's split of an f64 keeps 53 − 41 = 12 leading bits.
const F64_SPLITTER = 2 ** 41 + 1
// And of an f32, 24 − 12 = 12 bits; the low half holds the rest.
const F32_SPLITTER = 2 ** 12 + 1

/** A coefficient as `COEFFICIENT_PIECES` f32-exact numbers of at most 12 significant bits each. */
export const coefficientPieces = (value: number): Array<number> => {
  const pieces: Array<number> = []
  let rest = value
  for (let i = 0; i < COEFFICIENT_PIECES; i++) {
    if (!Number.isFinite(rest)) throw new RangeError(`a sampler coefficient must be finite, got ${value}`)
    const t = rest * F64_SPLITTER
    const high = t - (t - rest)
    pieces.push(high)
    rest -= high
  }
  return pieces
}

/** Knuth's TwoSum: s = fl(a + b) and the exact error e, a + b = s + e, for any order of magnitudes. */
const twoSum = (a: Tensor, b: Tensor): [Tensor, Tensor] => {
  const s = add(a, b)
  const bVirtual = sub(s, a)
  const aVirtual = sub(s, bVirtual)
  return [s, add(sub(a, aVirtual), sub(b, bVirtual))]
}

/** Veltkamp's split of f32 values into a high and a low half of at most 12 bits each (v = high + low). */
const halves = (v: Tensor): [Tensor, Tensor] => {
  const t = mul(v, F32_SPLITTER)
  const high = sub(t, sub(t, v))
  return [high, sub(v, high)]
}

/**
 * Σ cᵢ·vᵢ rounded to f32 as if computed exactly. `coefficients` is an f32 tensor [K, COEFFICIENT_PIECES]
 * of `coefficientPieces` rows; term i takes row `row` of it (or the coefficient 1 when it names no row)
 * and the f32 tensor `value` (all values of one shape). The exact products are stacked and added pairwise
 * (TwoSum on the two halves of the stack, level by level), the errors of every level summed aside and
 * added at the end: a few dozen kernels of stacked data, not one per product.
 */
export const exactCombination = (
  coefficients: Tensor,
  terms: ReadonlyArray<{ readonly row?: number; readonly value: Tensor }>,
): Tensor => {
  const first = terms[0]
  if (!first) throw new RangeError("an exact combination needs at least one term")
  const shape = first.value.shape
  const n = sizeOf(shape)
  const rows = terms.map(({ row, value }) => {
    if (row === undefined) return reshape(value, [1, n])
    const [high, low] = halves(value)
    const split = reshape(concat([reshape(high, [1, n]), reshape(low, [1, n])], 0), [1, 2, n])
    const pieces = reshape(sliceAxis(coefficients, 0, row, row + 1), [COEFFICIENT_PIECES, 1, 1])
    return reshape(mul(pieces, split), [2 * COEFFICIENT_PIECES, n])
  })
  let stack = rows.length === 1 ? rows[0]! : concat(rows, 0)
  let error: Tensor | undefined
  while (stack.shape[0]! > 1) {
    const count = stack.shape[0]!
    if (count % 2 === 1) stack = concat([stack, zeros([1, n])], 0)
    const half = Math.ceil(count / 2)
    const [s, e] = twoSum(sliceAxis(stack, 0, 0, half), sliceAxis(stack, 0, half, 2 * half))
    const levelError = sum(e, 0)
    error = error ? add(error, levelError) : levelError
    stack = s
  }
  const total = reshape(stack, [n])
  return reshape(error ? add(total, error) : total, shape)
}
