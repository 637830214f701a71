import { add, mul, sub } from "../ops/elementwise.js"
import { reshape, sliceAxis } from "../ops/movement.js"
import type { Tensor } from "../tensor/tensor.js"

/**
 * A sampler's update on the device gives the latents the host samplers give: there, a·x + b·y + … is
 * worked out in f64 with f64 coefficients and rounded to f32 once. f32 kernels get the same f32 value
 * (but for ties met with odds near 2^-20 per element) by making every product exact and adding them
 * without losing their errors: each coefficient comes as `COEFFICIENT_PIECES` pieces of at most 12
 * significant bits (their sum is the coefficient to 2^-48), each latent value is split on the device
 * into two halves of at most 12 bits (Veltkamp), so every piece · half product fits f32's 24 bits, and
 * the products are summed with Knuth's TwoSum, their rounding errors summed aside (Ogita–Rump–Oishi Sum2).
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
 * and the f32 tensor `value` (shapes broadcast).
 */
export const exactCombination = (
  coefficients: Tensor,
  terms: ReadonlyArray<{ readonly row?: number; readonly value: Tensor }>,
): Tensor => {
  const products: Array<Tensor> = []
  for (const { row, value } of terms) {
    if (row === undefined) {
      products.push(value)
      continue
    }
    const [high, low] = halves(value)
    for (let k = 0; k < COEFFICIENT_PIECES; k++) {
      const piece = reshape(sliceAxis(sliceAxis(coefficients, 0, row, row + 1), 1, k, k + 1), [])
      products.push(mul(high, piece), mul(low, piece))
    }
  }
  const [first, ...rest] = products
  if (!first) throw new RangeError("an exact combination needs at least one term")
  let sum = first
  let error: Tensor | undefined
  for (const product of rest) {
    const [s, e] = twoSum(sum, product)
    sum = s
    error = error ? add(error, e) : e
  }
  return error ? add(sum, error) : sum
}
