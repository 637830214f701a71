/**
 * Philox4x32-10: the one random stream every danlu backend reproduces.
 *
 * THE CONTRACT (reference TS, ONNX, WGSL and CUDA implement exactly this; the u32 stream and the uniform
 * floats are bit-exact everywhere, normal floats agree to a few ulp because log/sin/cos are not
 * correctly rounded on every device):
 *
 * 1. Block function `philox4x32_10(counter = [c0,c1,c2,c3], key = [k0,k1]) -> [x0,x1,x2,x3]`, all u32,
 *    as in Random123 (Salmon et al., SC'11):
 *      round(c, k): (hi0, lo0) = mulhilo(0xD2511F53, c0); (hi1, lo1) = mulhilo(0xCD9E8D57, c2)
 *                   c' = [hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0]
 *      c = round(c, k); then 9 times: k = [k0 + 0x9E3779B9, k1 + 0xBB67AE85] (mod 2^32); c = round(c, k)
 *    `mulhilo(a, b)` is the full 64-bit product of two u32s split into its high and low words.
 *    Checked against Random123's kat_vectors in test/random/philox.test.ts.
 * 2. A tensor fill is named by four u32s (seedLo, seedHi, offsetLo, offsetHi). Element i (row-major,
 *    0-based) is lane i % 4 of philox4x32_10(counter = [floor(i / 4), offsetLo, offsetHi, 0],
 *    key = [seedLo, seedHi]). So a fill holds at most 2^34 elements, and elements never depend on the
 *    tensor's shape, only on their flat index.
 * 3. Uniform f32 in the open interval (0, 1): u = ((x >>> 9) + 0.5) * 2^-23. Every step is exact in f32
 *    (x >>> 9 < 2^23, so the sum has at most 24 significant bits), which makes the floats bit-exact on
 *    any device; the range is [2^-24, 1 - 2^-24]. (Keeping 24 bits would put half the values on f32
 *    rounding ties and let u round up to exactly 1.) A `random` op of dtype f16 or bf16 stores this f32
 *    value rounded to nearest, so there the top draws round to exactly 1.0 (about 1 in 4096 in f16, 1 in
 *    512 in bf16): draw uniforms in f32 where the open interval matters (timestep sampling, dropout).
 * 4. Normal f32 (Box-Muller): lanes (0,1) and (2,3) of each block form pairs. With u1 = uniform(x_even)
 *    and u2 = uniform(x_odd): r = sqrt(-2 ln u1); element even = r cos(2 pi u2), element odd =
 *    r sin(2 pi u2). A fill of odd length still computes its last pair and drops the unused half.
 *    The reference computes in f64 and rounds once to f32.
 *
 * Seeds and offsets are 64-bit values carried as [lo, hi] u32 pairs. A training step gives each random
 * draw its own offset (`drawOffset(step, draw)` = step * 2^16 + draw), so no two draws of a run share a
 * counter. This stream is danlu's own: the same seed gives the same noise on every danlu backend, but
 * not the same noise as kohya, diffusers or A1111 (torch's CUDA Philox uses another counter layout and
 * another normal transform).
 */

/** A 64-bit value as two u32 words, low word first. */
export type Word64 = readonly [lo: number, hi: number]

export type PhiloxCounter = readonly [number, number, number, number]
export type PhiloxKey = readonly [number, number]

const MULTIPLIER_0 = 0xd2511f53
const MULTIPLIER_1 = 0xcd9e8d57
const WEYL_0 = 0x9e3779b9
const WEYL_1 = 0xbb67ae85
const ROUNDS = 10
const TWO_POW_32 = 4294967296
const MAX_FILL_ELEMENTS = 4 * TWO_POW_32

/**
 * High word of the 64-bit product of two u32s. A JS double holds only 53 bits, so the product is built
 * from 16-bit halves, every partial product staying below 2^32.
 */
const mulHigh = (a: number, b: number): number => {
  const aLow = a & 0xffff
  const aHigh = a >>> 16
  const bLow = b & 0xffff
  const bHigh = b >>> 16
  const lowLow = aLow * bLow
  const lowHigh = aLow * bHigh
  const highLow = aHigh * bLow
  const carry = (lowLow >>> 16) + (lowHigh & 0xffff) + (highLow & 0xffff)
  return (aHigh * bHigh + (lowHigh >>> 16) + (highLow >>> 16) + (carry >>> 16)) >>> 0
}

/**
 * Writes the four output words of one block into `out[at..at+3]`. Kept allocation-free because fills
 * call it once per four elements.
 */
export const philoxInto = (
  out: Uint32Array,
  at: number,
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
): void => {
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) {
      k0 = (k0 + WEYL_0) >>> 0
      k1 = (k1 + WEYL_1) >>> 0
    }
    const high0 = mulHigh(MULTIPLIER_0, c0)
    const low0 = Math.imul(MULTIPLIER_0, c0) >>> 0
    const high1 = mulHigh(MULTIPLIER_1, c2)
    const low1 = Math.imul(MULTIPLIER_1, c2) >>> 0
    c0 = (high1 ^ c1 ^ k0) >>> 0
    c1 = low1
    c2 = (high0 ^ c3 ^ k1) >>> 0
    c3 = low0
  }
  out[at] = c0
  out[at + 1] = c1
  out[at + 2] = c2
  out[at + 3] = c3
}

const isU32 = (value: number): boolean => Number.isInteger(value) && value >= 0 && value < TWO_POW_32

const checkWords = (what: string, words: ReadonlyArray<number>): void => {
  for (const word of words) {
    if (!isU32(word)) {
      throw new RangeError(`${what} must hold unsigned 32-bit integers, got ${String(word)}`)
    }
  }
}

/** One Philox4x32-10 block: the four u32 outputs for one counter and key. */
export const philoxBlock = (counter: PhiloxCounter, key: PhiloxKey): [number, number, number, number] => {
  checkWords("Philox counter", counter)
  checkWords("Philox key", key)
  const out = new Uint32Array(4)
  philoxInto(out, 0, counter[0], counter[1], counter[2], counter[3], key[0], key[1])
  return [out[0]!, out[1]!, out[2]!, out[3]!]
}

/**
 * Splits a non-negative integer seed into [lo, hi] u32 words. Numbers must be below 2^53 (beyond that a
 * JS number no longer names one integer); bigints may use all 64 bits.
 */
export const splitSeed = (seed: number | bigint): Word64 => {
  if (typeof seed === "bigint") {
    if (seed < 0n || seed >= 1n << 64n) {
      throw new RangeError(`a seed must be an integer in [0, 2^64), got ${seed}`)
    }
    return [Number(seed & 0xffffffffn), Number(seed >> 32n)]
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`a seed must be an integer in [0, 2^53), got ${seed}`)
  }
  return [seed % TWO_POW_32, Math.floor(seed / TWO_POW_32)]
}

/** Draws per training step that `drawOffset` can tell apart. */
export const DRAWS_PER_STEP = 65536

/**
 * The offset of random draw number `draw` (0-based, in a fixed order within the step: noise, timesteps,
 * dropout masks, ...) of training step `step`: step * 2^16 + draw. Distinct draws never share a counter.
 */
export const drawOffset = (step: number, draw: number): Word64 => {
  if (!Number.isSafeInteger(step) || step < 0 || step >= 2 ** 37) {
    throw new RangeError(`a step must be an integer in [0, 2^37), got ${step}`)
  }
  if (!Number.isInteger(draw) || draw < 0 || draw >= DRAWS_PER_STEP) {
    throw new RangeError(`a draw index must be an integer in [0, ${DRAWS_PER_STEP}), got ${draw}`)
  }
  return splitSeed(step * DRAWS_PER_STEP + draw)
}

const toWord64 = (what: string, value: number | bigint | Word64): Word64 => {
  if (typeof value === "number" || typeof value === "bigint") return splitSeed(value)
  checkWords(what, value)
  return value
}

/**
 * The four u32s that name a fill, in the order a graph's `random` op takes them:
 * [seedLo, seedHi, offsetLo, offsetHi].
 */
export const fillKey = (seed: number | bigint | Word64, offset: number | bigint | Word64): Uint32Array => {
  const [seedLo, seedHi] = toWord64("a seed", seed)
  const [offsetLo, offsetHi] = toWord64("an offset", offset)
  return Uint32Array.of(seedLo, seedHi, offsetLo, offsetHi)
}

const checkCount = (n: number): void => {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_FILL_ELEMENTS) {
    throw new RangeError(`a random fill holds 0 to 2^34 elements, got ${n}`)
  }
}

/** The raw stream: `n` u32s of the fill named by (seed, offset), rounded up to whole blocks. */
const blocks = (n: number, seed: number | bigint | Word64, offset: number | bigint | Word64): Uint32Array => {
  checkCount(n)
  const [seedLo, seedHi] = toWord64("a seed", seed)
  const [offsetLo, offsetHi] = toWord64("an offset", offset)
  const blockCount = Math.ceil(n / 4)
  const words = new Uint32Array(blockCount * 4)
  for (let block = 0; block < blockCount; block++) {
    philoxInto(words, block * 4, block, offsetLo, offsetHi, 0, seedLo, seedHi)
  }
  return words
}

/** Element i of the fill named by (seed, offset) as a u32. */
export const philoxUint32 = (
  n: number,
  seed: number | bigint | Word64,
  offset: number | bigint | Word64,
): Uint32Array => {
  const words = blocks(n, seed, offset)
  return words.length === n ? words : words.slice(0, n)
}

const UNIFORM_SCALE = 2 ** -23

/** The contract's u32 -> (0, 1) map; exact in f32, so callers may store it without rounding. */
export const uniformFromUint32 = (x: number): number => ((x >>> 9) + 0.5) * UNIFORM_SCALE

/** `n` uniform floats in (0, 1), bit-exact with every backend. */
export const uniformF32 = (
  n: number,
  seed: number | bigint | Word64,
  offset: number | bigint | Word64,
): Float32Array => {
  const words = blocks(n, seed, offset)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = uniformFromUint32(words[i]!)
  return out
}

const TWO_PI = 2 * Math.PI

/** `n` standard normal floats, Box-Muller on lane pairs, computed in f64 and rounded once to f32. */
export const normalF32 = (
  n: number,
  seed: number | bigint | Word64,
  offset: number | bigint | Word64,
): Float32Array => {
  const words = blocks(n, seed, offset)
  const out = new Float32Array(n)
  for (let even = 0; even < n; even += 2) {
    const radius = Math.sqrt(-2 * Math.log(uniformFromUint32(words[even]!)))
    const angle = TWO_PI * uniformFromUint32(words[even + 1]!)
    out[even] = radius * Math.cos(angle)
    if (even + 1 < n) out[even + 1] = radius * Math.sin(angle)
  }
  return out
}
