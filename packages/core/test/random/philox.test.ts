import { describe, expect, it } from "vitest"
import {
  DRAWS_PER_STEP,
  drawOffset,
  fillKey,
  normalF32,
  philoxBlock,
  philoxUint32,
  splitSeed,
  uniformF32,
  uniformFromUint32,
} from "../../src/random/index.js"

// Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter[4] key[2] -> output[4].
const knownAnswers = [
  {
    counter: [0, 0, 0, 0],
    key: [0, 0],
    output: [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  },
  {
    counter: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    key: [0xffffffff, 0xffffffff],
    output: [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  },
  {
    counter: [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    key: [0xa4093822, 0x299f31d0],
    output: [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  },
] as const

const mean = (xs: ArrayLike<number>): number => {
  let sum = 0
  for (let i = 0; i < xs.length; i++) sum += xs[i]!
  return sum / xs.length
}

const variance = (xs: ArrayLike<number>): number => {
  const m = mean(xs)
  let sum = 0
  for (let i = 0; i < xs.length; i++) sum += (xs[i]! - m) ** 2
  return sum / (xs.length - 1)
}

const correlation = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  const ma = mean(a)
  const mb = mean(b)
  let ab = 0
  let aa = 0
  let bb = 0
  for (let i = 0; i < a.length; i++) {
    const da = a[i]! - ma
    const db = b[i]! - mb
    ab += da * db
    aa += da * da
    bb += db * db
  }
  return ab / Math.sqrt(aa * bb)
}

const N = 100_000

describe("philoxBlock", () => {
  it.each(knownAnswers)("matches Random123's known answer for key $key", ({ counter, key, output }) => {
    expect(philoxBlock(counter, key)).toEqual([...output])
  })

  it("rejects words that are not u32", () => {
    expect(() => philoxBlock([0, 0, 0, 2 ** 32], [0, 0])).toThrow(/unsigned 32-bit/)
    expect(() => philoxBlock([0, 0, 0, 0], [-1, 0])).toThrow(/unsigned 32-bit/)
  })
})

describe("fill layout", () => {
  it("element i is lane i % 4 of the block whose counter is (i / 4, offsetLo, offsetHi, 0)", () => {
    const seed = [0xa4093822, 0x299f31d0] as const
    const offset = [0x13198a2e, 0x03707344] as const
    const words = philoxUint32(11, seed, offset)
    for (let i = 0; i < 11; i++) {
      const block = philoxBlock([Math.floor(i / 4), offset[0], offset[1], 0], seed)
      expect(words[i]).toBe(block[i % 4])
    }
  })

  it("does not depend on how many elements are asked for", () => {
    const long = philoxUint32(1001, 7, 3)
    const short = philoxUint32(13, 7, 3)
    expect(Array.from(short)).toEqual(Array.from(long.subarray(0, 13)))
  })

  it("fillKey orders the words as the graph op takes them", () => {
    expect(Array.from(fillKey(2 ** 32 + 5, [9, 1]))).toEqual([5, 1, 9, 1])
  })
})

describe("seeds and offsets", () => {
  it("splits number and bigint seeds into lo/hi words", () => {
    expect(splitSeed(0)).toEqual([0, 0])
    expect(splitSeed(0xffffffff)).toEqual([0xffffffff, 0])
    expect(splitSeed(2 ** 32)).toEqual([0, 1])
    expect(splitSeed(Number.MAX_SAFE_INTEGER)).toEqual([0xffffffff, 0x1fffff])
    expect(splitSeed(0xfedcba9876543210n)).toEqual([0x76543210, 0xfedcba98])
  })

  it("refuses seeds it cannot represent exactly", () => {
    expect(() => splitSeed(-1)).toThrow(/seed/)
    expect(() => splitSeed(1.5)).toThrow(/seed/)
    expect(() => splitSeed(2 ** 53)).toThrow(/seed/)
    expect(() => splitSeed(1n << 64n)).toThrow(/seed/)
  })

  it("gives every draw of every step its own offset", () => {
    expect(drawOffset(0, 0)).toEqual([0, 0])
    expect(drawOffset(3, 2)).toEqual([3 * DRAWS_PER_STEP + 2, 0])
    expect(drawOffset(2 ** 20, 1)).toEqual([1, 2 ** 4])
    expect(() => drawOffset(1, DRAWS_PER_STEP)).toThrow(/draw index/)
    expect(() => drawOffset(-1, 0)).toThrow(/step/)
  })

  it("reproduces the same fill for the same seed and offset", () => {
    expect(Array.from(normalF32(257, 1234, drawOffset(5, 1)))).toEqual(
      Array.from(normalF32(257, 1234, drawOffset(5, 1))),
    )
  })

  it("gives different offsets and seeds uncorrelated streams", () => {
    const base = uniformF32(N, 42, drawOffset(0, 0))
    const nextDraw = uniformF32(N, 42, drawOffset(0, 1))
    const nextStep = uniformF32(N, 42, drawOffset(1, 0))
    const otherSeed = uniformF32(N, 43, drawOffset(0, 0))
    const bound = 4 / Math.sqrt(N)
    for (const other of [nextDraw, nextStep, otherSeed]) {
      expect(Math.abs(correlation(base, other))).toBeLessThan(bound)
    }
    // Neighbouring elements of one fill must not be correlated either.
    expect(Math.abs(correlation(base.subarray(0, N - 1), base.subarray(1)))).toBeLessThan(bound)
  })
})

describe("uniformF32", () => {
  it("maps the u32 extremes strictly inside (0, 1), exactly in f32", () => {
    expect(uniformFromUint32(0)).toBe(2 ** -24)
    expect(uniformFromUint32(0xffffffff)).toBe(1 - 2 ** -24)
    for (const x of [0, 1, 511, 512, 0x80000000, 0xdeadbeef, 0xffffffff]) {
      const u = uniformFromUint32(x)
      expect(Math.fround(u)).toBe(u)
    }
  })

  it("is the contract's transform of the u32 stream", () => {
    const words = philoxUint32(64, 99, 1)
    const floats = uniformF32(64, 99, 1)
    for (let i = 0; i < 64; i++) expect(floats[i]).toBe(((words[i]! >>> 9) + 0.5) / 2 ** 23)
  })

  it("has the range, mean and variance of U(0, 1) over 1e5 samples", () => {
    const u = uniformF32(N, 2024, 0)
    let lowest = 1
    let highest = 0
    for (const x of u) {
      lowest = Math.min(lowest, x)
      highest = Math.max(highest, x)
    }
    expect(lowest).toBeGreaterThan(0)
    expect(highest).toBeLessThan(1)
    // Standard errors: mean 0.29/sqrt(N) = 0.0009, variance ~0.0003. Bounds are ~5 sigma.
    expect(Math.abs(mean(u) - 0.5)).toBeLessThan(0.005)
    expect(Math.abs(variance(u) - 1 / 12)).toBeLessThan(0.0015)
    const deciles = new Array<number>(10).fill(0)
    for (const x of u) deciles[Math.floor(x * 10)]! += 1
    for (const count of deciles) expect(Math.abs(count - N / 10)).toBeLessThan(500)
  })
})

describe("normalF32", () => {
  it("is Box-Muller on lane pairs of the uniform stream", () => {
    const u = uniformF32(6, 5, 6)
    const z = normalF32(5, 5, 6)
    for (const even of [0, 2, 4]) {
      const r = Math.sqrt(-2 * Math.log(u[even]!))
      const angle = 2 * Math.PI * u[even + 1]!
      expect(z[even]).toBe(Math.fround(r * Math.cos(angle)))
      if (even + 1 < 5) expect(z[even + 1]).toBe(Math.fround(r * Math.sin(angle)))
    }
    expect(z.length).toBe(5)
  })

  it("has mean 0, variance 1 and normal tails over 1e5 samples", () => {
    const z = normalF32(N, 7, drawOffset(12, 3))
    expect(Math.abs(mean(z))).toBeLessThan(0.015)
    expect(Math.abs(variance(z) - 1)).toBeLessThan(0.03)
    let beyondTwo = 0
    let nonFinite = 0
    for (const x of z) {
      if (!Number.isFinite(x)) nonFinite++
      if (Math.abs(x) > 2) beyondTwo++
    }
    expect(nonFinite).toBe(0)
    // P(|Z| > 2) = 0.0455; binomial sd over 1e5 is 0.00066.
    expect(Math.abs(beyondTwo / N - 0.0455)).toBeLessThan(0.004)
    // The two halves of a pair come from the same radius but must be uncorrelated.
    const evens = z.filter((_, i) => i % 2 === 0)
    const odds = z.filter((_, i) => i % 2 === 1)
    expect(Math.abs(correlation(evens, odds))).toBeLessThan(4 / Math.sqrt(N / 2))
  })

  it("refuses impossible sizes", () => {
    expect(() => normalF32(-1, 0, 0)).toThrow(/2\^34/)
    expect(() => normalF32(2 ** 34 + 1, 0, 0)).toThrow(/2\^34/)
  })
})
