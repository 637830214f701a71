import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Reference, Sample, T } from "../../src/index.js"
import { compareDeviceSampling } from "../../src/testing/index.js"

const onReference = <A>(effect: Effect.Effect<A, unknown, never>) => Effect.runPromise(effect)

describe("exactCombination", () => {
  it("rounds Σ c·v to f32 as the f64 sum does, where plain f32 arithmetic does not", async () => {
    const n = 4096
    // Values and coefficients over many magnitudes and signs, with cancellation (the last term nearly
    // undoes the first two).
    const values = [0, 1, 2].map((k) =>
      Float32Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + k) * 10 ** ((i % 7) - 3 + k)),
    )
    const coefficients = [1.0000001234567, -0.3333333333333333, Math.PI / 7]
    const pieces = coefficients.flatMap((c) => Sample.coefficientPieces(c))
    expect(pieces.every((p) => Math.fround(p) === p)).toBe(true)
    coefficients.forEach((c, i) => {
      const [a, b, d, e] = pieces.slice(4 * i, 4 * i + 4) as [number, number, number, number]
      expect(Math.abs(a + b + d + e - c)).toBeLessThanOrEqual(Math.abs(c) * 2 ** -47)
    })
    const table = T.input("coefficients", [3, Sample.COEFFICIENT_PIECES])
    const inputs = values.map((_, k) => T.input(`v${k}`, [n]))
    const exact = Sample.exactCombination(
      table,
      inputs.map((value, row) => ({ row, value })),
    )
    const plain = T.add(
      T.add(T.mul(inputs[0]!, coefficients[0]!), T.mul(inputs[1]!, coefficients[1]!)),
      T.mul(inputs[2]!, coefficients[2]!),
    )
    const out = await onReference(
      Reference.makeReferenceBackend()
        .compile({ outputs: { exact, plain } })
        .pipe(
          Effect.flatMap((program) =>
            program.run({
              coefficients: { dtype: "f32", shape: [3, 4], data: Float32Array.from(pieces) },
              ...Object.fromEntries(values.map((data, k) => [`v${k}`, { dtype: "f32", shape: [n], data }])),
            }),
          ),
          Effect.scoped,
        ),
    )
    const expected = Float32Array.from({ length: n }, (_, i) =>
      values.reduce((sum, v, k) => sum + coefficients[k]! * v[i]!, 0),
    )
    const mismatches = (data: ArrayLike<number>) => expected.filter((v, i) => v !== data[i]).length
    expect(mismatches(out.exact!.data as Float32Array)).toBe(0)
    expect(mismatches(out.plain!.data as Float32Array)).toBeGreaterThan(n / 10)
  })
})

describe("sampling with the latents on the device (reference backend)", () => {
  const cases: Array<Sample.SamplerSettings & { rng?: Sample.RngName }> = [
    ...Sample.samplerNames
      .filter((s) => s !== "DDIM")
      .flatMap((sampler) =>
        (["automatic", "karras", "exponential"] as const).map((scheduler) => ({
          sampler,
          scheduler,
          steps: 4,
        })),
      ),
    { sampler: "Euler a", steps: 3, rng: "nv" },
    { sampler: "Euler a", steps: 3, eta: 0.5 },
    { sampler: "DPM++ SDE", steps: 3, rng: "nv" },
    { sampler: "DDIM", steps: 4 },
    { sampler: "DDIM", steps: 4, eta: 0.7 },
  ]
  for (const settings of cases) {
    const label = `${settings.sampler} ${settings.scheduler ?? ""} ${settings.rng ?? ""} eta ${settings.eta ?? "-"}`
    it(`${label}: the same latents as the host loop, only the final ones read back`, async () => {
      const result = await onReference(compareDeviceSampling(settings).pipe(Effect.provide(Reference.layer)))
      expect(Array.from(result.device)).toEqual(Array.from(result.host))
      const latentBytes = result.host.byteLength
      const evaluations = result.hostTraffic.runs
      expect(evaluations).toBe(Sample.txt2imgPlan(settings).plan.evaluations.length)
      // Host loop: every evaluation's denoised output comes back; device: the latents once, at the end.
      expect(result.hostTraffic.outputBytes).toBe(evaluations * latentBytes)
      expect(result.deviceTraffic.runs).toBe(evaluations)
      expect(result.deviceTraffic.outputBytes).toBe(0)
      expect(result.deviceTraffic.downloadBytes).toBe(latentBytes)
    })
  }
})
