import { describe, expect, it } from "vitest"
import { Random, Sample } from "../../src/index.js"
import golden from "./golden-nv-random.json" with { type: "json" }

describe("A1111's NV random source", () => {
  it("gives torch.randn's CUDA values for seed 0 (documented in A1111's rng_philox.py)", () => {
    // Printed to 8 decimals, so within an f32 ulp of the values.
    const documented = [
      -0.92466259, -0.42534415, -2.6438457, 0.14518388, -0.12086647, -0.57972564, -0.62285122, -0.32838709,
      -1.07454231, -0.36314407, -1.67105067, 2.26550497,
    ]
    const values = Sample.nvRandn(0, 0, 12)
    for (const [i, v] of documented.entries()) expect(Math.abs(values[i]! - v)).toBeLessThan(1e-6)
  })

  it("equals an independent NumPy port bit for bit (seeds past 2^32, later draws)", () => {
    for (const c of golden.cases) {
      const values = Sample.nvRandn(c.seed, c.offset, c.values.length)
      expect(Array.from(values), `seed ${c.seed} offset ${c.offset}`).toEqual(c.values)
    }
  })

  it("starts a picture's latents at draw 0 and continues its generator for the sampler", () => {
    const noise = new Sample.ImageNoise({ rng: "nv", seeds: Sample.batchSeeds(41, 2), size: 6 })
    const initial = noise.initial()
    expect(Array.from(initial.subarray(0, 6))).toEqual(Array.from(Sample.nvRandn(41, 0, 6)))
    expect(Array.from(initial.subarray(6))).toEqual(Array.from(Sample.nvRandn(42, 0, 6)))
    const ancestral = noise.ancestral()
    const first = ancestral(1, 0.5)
    const second = ancestral(0.5, 0.1)
    expect(Array.from(first.subarray(6))).toEqual(Array.from(Sample.nvRandn(42, 1, 6)))
    expect(Array.from(second.subarray(0, 6))).toEqual(Array.from(Sample.nvRandn(41, 2, 6)))
  })

  it("reseeds the sampler's generators with the eta noise seed delta", () => {
    const noise = new Sample.ImageNoise({ rng: "nv", seeds: [7], size: 4, etaNoiseSeedDelta: 31337 })
    noise.initial()
    expect(Array.from(noise.ancestral()(1, 0.5))).toEqual(Array.from(Sample.nvRandn(7 + 31337, 0, 4)))
  })

  it("draws danlu's own Philox stream for rng philox, one offset per draw", () => {
    const noise = new Sample.ImageNoise({ rng: "philox", seeds: [5, 6], size: 3 })
    const initial = noise.initial()
    expect(Array.from(initial.subarray(3))).toEqual(Array.from(Random.normalF32(3, 6, 0)))
    expect(Array.from(noise.ancestral()(1, 0.5).subarray(0, 3))).toEqual(
      Array.from(Random.normalF32(3, 5, 1)),
    )
  })
})
