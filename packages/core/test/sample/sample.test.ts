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
