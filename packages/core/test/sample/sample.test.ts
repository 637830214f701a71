import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Random, Sample } from "../../src/index.js"

const size = 12
// The exact denoiser for N(mu, 1/4) data, elementwise, so each picture's result depends only on its own noise.
const denoise: Sample.Denoiser = (x, sigma) =>
  Effect.succeed(x.map((v, i) => (0.25 * v + sigma ** 2 * Math.cos(i % size)) / (0.25 + sigma ** 2)))

const run = (sampler: Sample.SamplerName, seeds: number[], steps = 6) =>
  Effect.runSync(
    Sample.sample({
      sampler,
      steps,
      denoise,
      noise: new Sample.ImageNoise({ rng: "philox", seeds, size }),
    }),
  )

describe("sample (txt2img as A1111 runs it)", () => {
  it("starts Euler a from noise · sigma_max and feeds it each picture's next draws", () => {
    const sigmas = Sample.uniformSigmas(Sample.discreteSchedule(), 6)
    let draw = 1
    const expected = Effect.runSync(
      Sample.sampleEulerAncestral({
        denoise,
        x: Random.normalF32(size, 9, 0).map((v) => v * sigmas[0]!),
        sigmas,
        noise: () => Random.normalF32(size, 9, draw++),
      }),
    )
    expect(Array.from(run("Euler a", [9]))).toEqual(Array.from(expected))
  })

  it("starts DDIM from the plain noise", () => {
    const schedule = Sample.discreteSchedule()
    const expected = Effect.runSync(
      Sample.sampleDdim({
        denoise,
        x: Random.normalF32(size, 3, 0),
        schedule,
        timesteps: Sample.ddimTimesteps(6),
      }),
    )
    expect(Array.from(run("DDIM", [3]))).toEqual(Array.from(expected))
  })

  for (const sampler of Sample.samplerNames) {
    it(`${sampler}: a picture is the same in any batch`, () => {
      const batch = run(sampler, [20, 21, 22])
      const alone = run(sampler, [21])
      expect(Array.from(batch.subarray(size, 2 * size))).toEqual(Array.from(alone))
    })
  }
})

describe("Brownian noise for DPM++ SDE", () => {
  const n = 20000
  const brownian = () => {
    const noise = new Sample.ImageNoise({ rng: "philox", seeds: [1], size: n })
    noise.initial()
    return noise.brownian()
  }
  const correlation = (a: Float32Array, b: Float32Array) => {
    let ab = 0
    let aa = 0
    let bb = 0
    for (let i = 0; i < n; i++) {
      ab += a[i]! * b[i]!
      aa += a[i]! ** 2
      bb += b[i]! ** 2
    }
    return { r: ab / Math.sqrt(aa * bb), varA: aa / n, varB: bb / n }
  }

  it("gives standard-normal increments that overlap as a Brownian path's do", () => {
    const noise = brownian()
    const [sigma, mid, next] = [8, 4.5, 3]
    const half = noise(sigma, mid)
    const whole = noise(sigma, next)
    const { r, varA, varB } = correlation(half, whole)
    expect(varA).toBeCloseTo(1, 1)
    expect(varB).toBeCloseTo(1, 1)
    expect(Math.abs(r - Math.sqrt((sigma - mid) / (sigma - next)))).toBeLessThan(0.02)
  })

  it("adds up along the path and repeats a query exactly", () => {
    const noise = brownian()
    const ab = noise(8, 3)
    const ac = noise(8, 1)
    const bc = noise(3, 1)
    for (let i = 0; i < 50; i++) {
      expect(ab[i]! * Math.sqrt(5) + bc[i]! * Math.sqrt(2)).toBeCloseTo(ac[i]! * Math.sqrt(7), 5)
    }
    expect(Array.from(noise(8, 3).subarray(0, 50))).toEqual(Array.from(ab.subarray(0, 50)))
  })
})
