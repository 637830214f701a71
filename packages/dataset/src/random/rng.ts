/**
 * A small deterministic generator for shuffles, dropout, random crops and flips. Everything is 32-bit
 * integer arithmetic (`Math.imul`, shifts), so a key gives the same numbers on every machine and
 * every JavaScript engine — unlike `Math.random`, which is neither seedable nor portable.
 *
 * Keys are lists of numbers (e.g. seed, epoch, sample index): each draw stream is independent of the
 * others, so the order of the images in one epoch does not depend on how many numbers another
 * stream consumed.
 */

/** Chris Wellons' "lowbias32" integer hash: a bijection on 32-bit integers with good avalanche. */
const hash32 = (x: number): number => {
  x ^= x >>> 16
  x = Math.imul(x, 0x7feb352d)
  x ^= x >>> 15
  x = Math.imul(x, 0x846ca68b)
  x ^= x >>> 16
  return x >>> 0
}

const golden = 0x9e3779b9

/** Folds a key of safe integers (negative and above 2³² included) into one 32-bit state. */
const foldKey = (key: ReadonlyArray<number>): number => {
  let state = 0x6a09e667
  for (const part of key) {
    if (!Number.isSafeInteger(part))
      throw new RangeError(`random key parts must be safe integers, got ${part}`)
    const low = part >>> 0
    const high = Math.floor(part / 0x1_0000_0000) >>> 0
    state = hash32((state + golden + low) >>> 0)
    state = hash32((state + golden + high) >>> 0)
  }
  return state
}

export interface Rng {
  /** A uniform integer in [0, 2³²). */
  readonly nextUint32: () => number
  /** A uniform number in [0, 1), with 32 bits of resolution. */
  readonly nextFloat: () => number
  /** A uniform integer in [0, bound). */
  readonly nextInt: (bound: number) => number
}

/** A generator for one key: a Weyl sequence hashed per draw (the splitmix construction, 32-bit). */
export const createRng = (...key: ReadonlyArray<number>): Rng => {
  let counter = foldKey(key)
  const nextUint32 = (): number => {
    counter = (counter + golden) >>> 0
    return hash32(counter ^ hash32(counter))
  }
  const nextFloat = (): number => nextUint32() / 0x1_0000_0000
  const nextInt = (bound: number): number => {
    if (!Number.isInteger(bound) || bound < 1 || bound > 0x1_0000_0000) {
      throw new RangeError(`nextInt bound must be an integer in [1, 2^32], got ${bound}`)
    }
    // Rejection sampling keeps the draw unbiased for bounds that do not divide 2³².
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % bound)
    for (;;) {
      const value = nextUint32()
      if (value < limit) return value % bound
    }
  }
  return { nextUint32, nextFloat, nextInt }
}

/** Fisher–Yates shuffle of a copy of `items`. */
export const shuffled = <A>(items: ReadonlyArray<A>, rng: Rng): Array<A> => {
  const out = items.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1)
    const held = out[i]!
    out[i] = out[j]!
    out[j] = held
  }
  return out
}
