/** Side of the greyscale thumbnail the hash is computed from. */
export const hashInputSide = 32
const lowFrequencies = 8

const cosines: ReadonlyArray<Float64Array> = Array.from({ length: lowFrequencies }, (_, u) => {
  const row = new Float64Array(hashInputSide)
  for (let x = 0; x < hashInputSide; x++) row[x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * hashInputSide))
  return row
})

/**
 * The classic DCT perceptual hash: a 32×32 greyscale thumbnail, its 8×8 lowest DCT frequencies, one
 * bit per coefficient above their median (the DC term excluded from the median). Resizing,
 * re-encoding and small edits move few bits; different pictures differ in about half of the 64.
 * Returned as 16 hex digits.
 */
export const perceptualHash = (grey: Uint8Array): string => {
  if (grey.length !== hashInputSide * hashInputSide) {
    throw new RangeError(`perceptual hash needs a ${hashInputSide}×${hashInputSide} greyscale image`)
  }
  const rows = new Float64Array(lowFrequencies * hashInputSide)
  for (let u = 0; u < lowFrequencies; u++) {
    const cu = cosines[u]!
    for (let y = 0; y < hashInputSide; y++) {
      let sum = 0
      for (let x = 0; x < hashInputSide; x++) sum += grey[y * hashInputSide + x]! * cu[x]!
      rows[u * hashInputSide + y] = sum
    }
  }
  const coefficients = new Float64Array(lowFrequencies * lowFrequencies)
  for (let v = 0; v < lowFrequencies; v++) {
    const cv = cosines[v]!
    for (let u = 0; u < lowFrequencies; u++) {
      let sum = 0
      for (let y = 0; y < hashInputSide; y++) sum += rows[u * hashInputSide + y]! * cv[y]!
      coefficients[v * lowFrequencies + u] = sum
    }
  }
  const median = [...coefficients.subarray(1)].sort((a, b) => a - b)[31]!
  let hex = ""
  for (let nibble = 0; nibble < 16; nibble++) {
    let value = 0
    for (let bit = 0; bit < 4; bit++)
      value = (value << 1) | (coefficients[nibble * 4 + bit]! > median ? 1 : 0)
    hex += value.toString(16)
  }
  return hex
}

const popcount = (x: number): number => {
  let count = 0
  while (x !== 0) {
    x &= x - 1
    count++
  }
  return count
}

/** Bits that differ between two hashes from {@link perceptualHash}. */
export const hammingDistance = (a: string, b: string): number => {
  let distance = 0
  for (let i = 0; i < a.length; i += 8) {
    distance += popcount(
      (Number.parseInt(a.slice(i, i + 8), 16) ^ Number.parseInt(b.slice(i, i + 8), 16)) >>> 0,
    )
  }
  return distance
}
