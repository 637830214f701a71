import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Random, Sample } from "../../src/index.js"
import { pythonRound } from "../../src/sample/brownianTree.js"
import golden from "./golden-brownian.json" with { type: "json" }

// Goldens from tools/reference/golden_brownian.py: the real torchsde 0.2.6 BrownianTree and k-diffusion's
// BrownianTreeNoiseSampler / sample_dpmpp_sde (the commit A1111 pins), with torchsde's _randn patched to
// A1111's NV generator as A1111 patches it, and NumPy's own SeedSequence.

const nvFirstDraw: Sample.SeededNormals = (seed, n) => Sample.nvRandn(seed, 0, n)

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number) => {
  expect(actual.length).toBe(expected.length)
  let worst = 0
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!))
  expect(worst).toBeLessThanOrEqual(tolerance)
}

const ulp32 = (x: number) => {
  const exponent = Math.floor(Math.log2(Math.abs(x)))
  return 2 ** (exponent - 23)
}

describe("NumPy's SeedSequence", () => {
  for (const c of golden.seedSequences) {
    it(`entropy ${c.entropy}, spawn key (${c.spawnKey.join(", ")}), pool ${c.poolSize}`, () => {
      const sequence = new Random.SeedSequence({
        entropy: BigInt(c.entropy),
        spawnKey: c.spawnKey,
        poolSize: c.poolSize,
      })
      expect(Array.from(sequence.generateState(4))).toEqual(c.state)
    })
  }
})

describe("Python's round(x, 6)", () => {
  it("rounds to the nearest 6-decimal double, exact ties to even", () => {
    expect(pythonRound(14.614643096923828, 6)).toBe(14.614643)
    expect(pythonRound(0.0291675366461277, 6)).toBe(0.029168)
    expect(pythonRound(-2.5000004, 6)).toBe(-2.5)
    // 1/128 = 0.0078125 exactly, a tie; 3/128 = 0.0234375 likewise.
    expect(pythonRound(1 / 128, 6)).toBe(0.007812)
    expect(pythonRound(3 / 128, 6)).toBe(0.023438)
    expect(pythonRound(0.5, 0)).toBe(0)
    expect(pythonRound(1.5, 0)).toBe(2)
  })
})

describe("sigma schedules as torch computes them in float32", () => {
  const schedule = Sample.discreteSchedule()
  const compare = (
    ours: (n: number) => ArrayLike<number>,
    theirs: Record<string, Array<number>>,
    tolerance: (sigma: number) => number,
  ) => {
    let inexact = 0
    for (const [n, expected] of Object.entries(theirs)) {
      const actual = ours(Number(n))
      expect(actual.length).toBe(expected.length)
      for (let i = 0; i < expected.length; i++) {
        expect(Math.abs(actual[i]! - expected[i]!), `${n} steps, sigma ${i}`).toBeLessThanOrEqual(
          tolerance(expected[i]!),
        )
        if (actual[i] !== expected[i]) inexact++
      }
    }
    return inexact
  }

  it("Karras: torch's values on the CPU, but for 3 of 202 where its float32 pow is an ulp off", () => {
    const inexact = compare(
      (n) => Sample.karrasSigmas(n, schedule.sigmaMin, schedule.sigmaMax),
      golden.schedules.karras,
      ulp32,
    )
    expect(inexact).toBeLessThanOrEqual(3)
  })

  it("default: close to torch's CPU values (A1111 computes them on the GPU, whose linspace danlu follows)", () => {
    // 50 of 202 differ: the CPU's vector linspace rounds otherwise, and float32 exp.
    const ours = (n: number) => Sample.uniformSigmas(schedule, n)
    expect(compare(ours, golden.schedules.uniform, (sigma) => 1e-6 * sigma)).toBeLessThanOrEqual(50)
  })
})

describe("DPM++ SDE noise as A1111 draws it (NV / GPU source)", () => {
  for (const c of golden.cases) {
    const size = c.shape.reduce((a, b) => a * b, 1)
    const batch = c.seeds.length
    const mu = Array.from({ length: batch * size }, (_, j) => 0.5 * Math.sin(0.7 * j + 0.3))
    const denoise: Sample.Denoiser = (x, sigma) =>
      Effect.succeed(x.map((v, j) => (golden.s2 * v + sigma ** 2 * mu[j]!) / (golden.s2 + sigma ** 2)))

    it(`${c.name}: the trees' noise at k-diffusion's float32 sigmas`, () => {
      const noise = Sample.brownianTreeNoise({ seeds: c.seeds, size, sigmas: c.sigmas, randn: nvFirstDraw })
      for (const query of [...c.queries, c.ascending]) {
        expectClose(noise(query.sigma, query.sigmaNext), query.values, 1e-6)
      }
    })

    it(`${c.name}: danlu's sigmas mapped to k-diffusion's float32 ones`, () => {
      const asKDiffusion = Sample.dpmppSdeNoiseSigmas(c.sigmas)
      for (const query of c.queries) {
        for (const sigma of [query.sigma, query.sigmaNext]) {
          // torch's float32 exp is off by an ulp for a few of them (see dpmppSdeNoiseSigmas).
          expect(Math.abs(asKDiffusion(sigma) - sigma)).toBeLessThanOrEqual(ulp32(sigma))
        }
      }
    })

    it(`${c.name}: the sampler run from the seeds`, () => {
      const noise = new Sample.ImageNoise({ rng: "nv", seeds: c.seeds, size })
      const x = noise.initial().map((v) => v * c.sigmas[0]!)
      const final = Effect.runSync(
        Sample.sampleDpmppSde({ denoise, x, sigmas: c.sigmas, noise: noise.brownian(c.sigmas) }),
      )
      // Against k-diffusion's float32 run and the float64 NumPy sampler fed torch's noise; the queries one
      // float32 ulp apart (above) move the result by up to 1e-5.
      expectClose(final, c.final, 2e-5)
      expectClose(final, c.reference, 2e-5)
    })

    if (c.name.includes("Karras")) {
      it(`${c.name}: sample() gives the same picture`, () => {
        const steps = c.sigmas.length - 1
        const schedule = Sample.discreteSchedule()
        expect(Array.from(Sample.karrasSigmas(steps, schedule.sigmaMin, schedule.sigmaMax))).toEqual(c.sigmas)
        const final = Effect.runSync(
          Sample.sample({
            sampler: "DPM++ SDE",
            scheduler: "karras",
            steps,
            denoise,
            noise: new Sample.ImageNoise({ rng: "nv", seeds: c.seeds, size }),
          }),
        )
        expectClose(final, c.final, 2e-5)
      })
    }
  }

  it("is the same whatever the eta noise seed delta, as A1111 seeds the trees with the pictures' seeds", () => {
    const c = golden.cases[0]!
    const size = c.shape.reduce((a, b) => a * b, 1)
    const run = (etaNoiseSeedDelta: number) => {
      const noise = new Sample.ImageNoise({ rng: "nv", seeds: c.seeds, size, etaNoiseSeedDelta })
      noise.initial()
      return noise.brownian(c.sigmas)(c.sigmas[0]!, c.sigmas[1]!)
    }
    expect(Array.from(run(31337))).toEqual(Array.from(run(0)))
  })
})

describe("the Brownian tree", () => {
  const tree = () =>
    new Sample.BrownianTree({ t0: 0.03, t1: 14.6, entropy: 7, size: 1000, randn: nvFirstDraw })

  it("adds increments along the path, whatever the query order", () => {
    const first = tree()
    const whole = first.increment(1, 9)
    const second = tree()
    const late = second.increment(4.25, 9)
    const early = second.increment(1, 4.25)
    for (let j = 0; j < whole.length; j++) expect(early[j]! + late[j]!).toBeCloseTo(whole[j]!, 5)
    expect(Array.from(second.increment(1, 9))).toEqual(Array.from(whole))
  })

  it("gives increments with the variance of their span", () => {
    const w = tree().increment(2, 6.5)
    const variance = w.reduce((sum, v) => sum + v * v, 0) / w.length
    expect(variance / 4.5).toBeGreaterThan(0.85)
    expect(variance / 4.5).toBeLessThan(1.15)
  })

  it("clamps queries to its span and returns zeros for an empty one", () => {
    const t = tree()
    expect(Array.from(t.increment(0.01, 20))).toEqual(Array.from(t.increment(0.03, 14.6)))
    expect(t.increment(3, 3).every((v) => v === 0)).toBe(true)
    expect(() => t.increment(5, 4)).toThrow(RangeError)
  })

  it("depends on the seed", () => {
    const other = new Sample.BrownianTree({ t0: 0.03, t1: 14.6, entropy: 8, size: 1000, randn: nvFirstDraw })
    expect(other.increment(1, 9)[0]).not.toBe(tree().increment(1, 9)[0])
  })
})
