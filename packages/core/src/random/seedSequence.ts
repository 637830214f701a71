/**
 * NumPy's `np.random.SeedSequence` (`numpy/random/bit_generator.pyx`, after M. E. O'Neill's seed_seq
 * alternative), the part torchsde uses: hash the entropy and the spawn key into a pool of `poolSize` 32-bit
 * words, then `generateState(n)` draws n uint32 words from the pool. torchsde's Brownian tree derives every
 * node's seeds this way, so reproducing A1111's DPM++ SDE noise needs it bit for bit.
 *
 * Integers enter as their 32-bit words, lowest first (0 as one word). As NumPy does since 1.19, a run
 * entropy shorter than the pool is padded with zero words when a spawn key follows it.
 */

const INIT_A = 0x43b0d7e5
const MULT_A = 0x931e8875
const INIT_B = 0x8b51f9dd
const MULT_B = 0x58f38ded
const MIX_MULT_L = 0xca01f9dd
const MIX_MULT_R = 0x4973f715

/** A non-negative integer as uint32 words, lowest first. */
const words = (value: number | bigint): Array<number> => {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new RangeError(`SeedSequence takes integers, got ${value}`)
  }
  let n = BigInt(value)
  if (n < 0n) throw new RangeError(`SeedSequence takes non-negative integers, got ${value}`)
  if (n === 0n) return [0]
  const out: Array<number> = []
  while (n > 0n) {
    out.push(Number(n & 0xffffffffn))
    n >>= 32n
  }
  return out
}

export interface SeedSequenceOptions {
  readonly entropy: number | bigint | ReadonlyArray<number | bigint>
  readonly spawnKey?: ReadonlyArray<number | bigint>
  /** Words in the pool (NumPy's default 4; torchsde's BrownianTree passes 24). */
  readonly poolSize?: number
}

export class SeedSequence {
  private readonly pool: Uint32Array

  constructor(options: SeedSequenceOptions) {
    const poolSize = options.poolSize ?? 4
    if (!Number.isInteger(poolSize) || poolSize < 4) {
      throw new RangeError(`a SeedSequence pool holds at least 4 words, got ${poolSize}`)
    }
    const run = Array.isArray(options.entropy)
      ? options.entropy.flatMap(words)
      : words(options.entropy as number | bigint)
    const spawn = (options.spawnKey ?? []).flatMap(words)
    if (spawn.length > 0) while (run.length < poolSize) run.push(0)
    this.pool = mixEntropy(poolSize, [...run, ...spawn])
  }

  /** `generate_state(n)`: n uint32 words for seeding a generator. */
  generateState(n: number): Uint32Array {
    const out = new Uint32Array(n)
    let hash = INIT_B
    for (let i = 0; i < n; i++) {
      let value = (this.pool[i % this.pool.length]! ^ hash) >>> 0
      hash = Math.imul(hash, MULT_B) >>> 0
      value = Math.imul(value, hash) >>> 0
      out[i] = (value ^ (value >>> 16)) >>> 0
    }
    return out
  }
}

const mixEntropy = (poolSize: number, entropy: ReadonlyArray<number>): Uint32Array => {
  let hash = INIT_A
  const hashmix = (value: number): number => {
    let v = (value ^ hash) >>> 0
    hash = Math.imul(hash, MULT_A) >>> 0
    v = Math.imul(v, hash) >>> 0
    return (v ^ (v >>> 16)) >>> 0
  }
  const mix = (x: number, y: number): number => {
    const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0
    return (r ^ (r >>> 16)) >>> 0
  }
  const pool = new Uint32Array(poolSize)
  for (let i = 0; i < poolSize; i++) pool[i] = hashmix(i < entropy.length ? entropy[i]! : 0)
  for (let src = 0; src < poolSize; src++) {
    for (let dst = 0; dst < poolSize; dst++) {
      if (src !== dst) pool[dst] = mix(pool[dst]!, hashmix(pool[src]!))
    }
  }
  for (let src = poolSize; src < entropy.length; src++) {
    for (let dst = 0; dst < poolSize; dst++) pool[dst] = mix(pool[dst]!, hashmix(entropy[src]!))
  }
  return pool
}
