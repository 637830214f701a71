import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Sample } from "../../src/index.js"
import golden from "./golden-samplers.json" with { type: "json" }

// Goldens from tools/reference/golden_samplers.py: an independent NumPy k-diffusion / A1111 DDIM on the
// exact denoiser for N(mu, s²) data, with fixed initial and ancestral noise.
const schedule = Sample.discreteSchedule()
const size = golden.shape.reduce((a, b) => a * b, 1)
const mu = Array.from({ length: size }, (_, j) => 0.5 * Math.sin(0.7 * j + 0.3))

const analyticDenoiser = (calls: number[]): Sample.Denoiser => {
  return (x, sigma) =>
    Effect.sync(() => {
      calls.push(sigma)
      return Float32Array.from(x, (v, j) => (golden.s2 * v + sigma ** 2 * mu[j]!) / (golden.s2 + sigma ** 2))
    })
}

const replay = (draws: ReadonlyArray<ReadonlyArray<number>>): Sample.NoiseSampler => {
  let next = 0
  return () => Float32Array.from(draws[next++]!)
}

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number) => {
  expect(actual.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `element ${i}`).toBeLessThanOrEqual(tolerance)
  }
}

const relativeClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number) => {
  expect(actual.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    const scale = Math.max(Math.abs(expected[i]!), 1e-30)
    expect(Math.abs(actual[i]! - expected[i]!) / scale, `element ${i}`).toBeLessThanOrEqual(tolerance)
  }
}

describe("sigma schedules as A1111 builds them", () => {
  const s = golden.schedules
  it("has SD's sigma range", () => {
    expect(schedule.sigmaMin).toBe(s.sigma_min)
    expect(schedule.sigmaMax).toBe(s.sigma_max)
  })
  it("matches k-diffusion's get_sigmas (Automatic/Uniform), Karras and exponential", () => {
    relativeClose(Sample.uniformSigmas(schedule, 20), s.uniform20, 2e-6)
    relativeClose(Sample.uniformSigmas(schedule, 7), s.uniform7, 2e-6)
    relativeClose(Sample.uniformSigmas(schedule, 1), s.uniform1, 2e-6)
    relativeClose(Sample.karrasSigmas(20, schedule.sigmaMin, schedule.sigmaMax), s.karras20, 2e-6)
    relativeClose(Sample.exponentialSigmas(20, schedule.sigmaMin, schedule.sigmaMax), s.exponential20, 2e-6)
  })
  it("maps sigma to a fractional timestep and back", () => {
    for (const [sigma, t] of s.sigma_to_t as Array<[number, number]>) {
      expect(Sample.sigmaToT(schedule, sigma)).toBeCloseTo(t, 6)
    }
    for (const t of [0, 1.5, 500.25, 998.75, 999]) {
      expect(Sample.sigmaToT(schedule, Sample.tToSigma(schedule, t))).toBeCloseTo(t, 4)
    }
  })
  it("lists A1111's DDIM timesteps", () => {
    expect([...Sample.ddimTimesteps(20)]).toEqual(s.ddim20)
    expect([...Sample.ddimTimesteps(30)]).toEqual(s.ddim30)
    expect([...Sample.ddimTimesteps(7)]).toEqual(s.ddim7)
  })
})

describe("samplers against the NumPy reference", () => {
  const kSamplers = {
    Euler: Sample.sampleEuler,
    "Euler a": Sample.sampleEulerAncestral,
    Heun: Sample.sampleHeun,
    "DPM++ 2M": Sample.sampleDpmpp2m,
    "DPM++ SDE": Sample.sampleDpmppSde,
  } as const
  for (const c of golden.cases) {
    it(c.name, () => {
      const calls: number[] = []
      const denoise = analyticDenoiser(calls)
      const noise = replay(c.noise)
      const initial = Float32Array.from(c.initial)
      const final =
        c.sampler === "DDIM"
          ? Sample.sampleDdim({
              denoise,
              x: initial,
              schedule,
              timesteps: Sample.ddimTimesteps(c.steps!),
              eta: c.eta!,
              noise,
            })
          : kSamplers[c.sampler as keyof typeof kSamplers]({
              denoise,
              x: initial.map((v) => v * c.sigmas![0]!),
              sigmas: c.sigmas!,
              noise,
            })
      expectClose(Effect.runSync(final), c.final, 1e-5)
      expect(calls.length).toBe(c.calls)
    })
  }
})
