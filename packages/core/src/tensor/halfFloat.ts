// f16 and bf16 conversions with IEEE round-to-nearest-even, through a shared f32 view so that every
// conversion first rounds to f32, as a device would when it stores an f32 register into 16 bits.
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** Rounds a number to the nearest f16 and returns its bit pattern. */
export const toF16Bits = (value: number): number => {
  f32[0] = value
  const x = u32[0]!
  const sign = (x >>> 16) & 0x8000
  const exponent = (x >>> 23) & 0xff
  let mantissa = x & 0x7fffff
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0)
  const e = exponent - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mantissa |= 0x800000
    const shift = 14 - e
    const half = 1 << (shift - 1)
    const rest = mantissa & ((1 << shift) - 1)
    let bits = mantissa >>> shift
    if (rest > half || (rest === half && (bits & 1) === 1)) bits++
    return sign | bits
  }
  const rest = mantissa & 0x1fff
  let bits = (e << 10) | (mantissa >>> 13)
  if (rest > 0x1000 || (rest === 0x1000 && (bits & 1) === 1)) bits++
  return sign | bits
}

/** The value of an f16 bit pattern. */
export const fromF16Bits = (bits: number): number => {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >>> 10) & 0x1f
  const mantissa = bits & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 0x1f) return mantissa !== 0 ? Number.NaN : sign * Number.POSITIVE_INFINITY
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}

/** Rounds a number to the nearest bf16 and returns its bit pattern. */
export const toBF16Bits = (value: number): number => {
  f32[0] = value
  const x = u32[0]!
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40
  const rounded = x + 0x7fff + ((x >>> 16) & 1)
  return (rounded >>> 16) & 0xffff
}

/** The value of a bf16 bit pattern. */
export const fromBF16Bits = (bits: number): number => {
  u32[0] = (bits & 0xffff) << 16
  return f32[0]!
}

export const roundToF16 = (value: number): number => fromF16Bits(toF16Bits(value))
export const roundToBF16 = (value: number): number => fromBF16Bits(toBF16Bits(value))
