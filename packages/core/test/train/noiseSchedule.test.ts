import { describe, expect, it } from "vitest"
import { huberThresholds, noiseSchedule, resolveStepOptions, timestepLossWeights } from "../../src/index.js"

// Anchors from ../shared/research/training-math.md §1.1 and §1.6 (float32 values of diffusers/CompVis).
const close = (actual: number, expected: number, digits: number) =>
  expect(Math.abs(actual - expected) / Math.abs(expected)).toBeLessThan(10 ** -digits)

describe("SD's DDPM training schedule", () => {
  const { alphasCumprod: ac, snr } = noiseSchedule()

  it("matches the scaled-linear anchors", () => {
    close(ac[0]!, 0.99915, 5)
    close(ac[999]!, 0.0046601, 4)
    close(snr[0]!, 1175.44, 5)
    close(snr[100]!, 8.454, 3)
    close(snr[500]!, 0.38185, 4)
    close(snr[999]!, 0.0046819, 4)
    close(Math.sqrt((1 - ac[0]!) / ac[0]!), 0.0291675, 5)
    close(Math.sqrt((1 - ac[999]!) / ac[999]!), 14.6146, 5)
    expect(snr.findIndex((s) => s < 5)).toBe(147)
    expect(snr.findIndex((s) => s < 1)).toBe(354)
  })

  it("rescales to zero terminal SNR but keeps the SNR weights of the original schedule", () => {
    const rescaled = noiseSchedule({ zeroTerminalSnr: true })
    expect(rescaled.alphasCumprod[999]).toBe(0)
    close(rescaled.alphasCumprod[0]!, ac[0]!, 6)
    expect(Array.from(rescaled.snr)).toEqual(Array.from(snr))
    // √ᾱ' is an affine map of √ᾱ fixed at t = 0 and zero at t = 999.
    const [a0, aT] = [Math.sqrt(ac[0]!), Math.sqrt(ac[999]!)]
    for (const t of [1, 250, 500, 998]) {
      close(Math.sqrt(rescaled.alphasCumprod[t]!), ((Math.sqrt(ac[t]!) - aT) * a0) / (a0 - aT), 5)
    }
  })

  it("weights losses as kohya's min-SNR, debiased and v-pred options", () => {
    const schedule = noiseSchedule()
    const minSnr = timestepLossWeights(schedule, resolveStepOptions({ minSnrGamma: 5 }))!
    close(minSnr[0]!, 0.004254, 3)
    close(minSnr[100]!, 0.5914, 3)
    expect(minSnr[250]).toBe(1)
    const minSnrV = timestepLossWeights(
      schedule,
      resolveStepOptions({ minSnrGamma: 5, predictionType: "v_prediction" }),
    )!
    close(minSnrV[500]!, 0.27633, 4)
    const debiased = timestepLossWeights(schedule, resolveStepOptions({ debiasedEstimationLoss: true }))!
    close(debiased[0]!, 0.031623, 4)
    close(debiased[999]!, 14.6147, 4)
    const vScaled = timestepLossWeights(schedule, resolveStepOptions({ scaleVPredLossLikeNoisePred: true }))!
    const vLike = timestepLossWeights(schedule, resolveStepOptions({ vPredLikeLoss: 0.5 }))!
    for (const t of [0, 300, 999]) {
      const s = Math.min(snr[t]!, 1000)
      close(vScaled[t]!, s / (s + 1), 6)
      close(vLike[t]!, 1 + 0.5 / (s / (s + 1)), 6)
    }
    expect(timestepLossWeights(schedule, resolveStepOptions())).toBeUndefined()
  })

  it("schedules the pseudo-Huber threshold", () => {
    const schedule = noiseSchedule()
    const of = (huberSchedule: "constant" | "exponential" | "snr") =>
      huberThresholds(
        schedule,
        resolveStepOptions({ lossType: "huber", huberC: 0.2, huberScale: 1.5, huberSchedule }),
      )!
    expect(of("constant")[123]).toBeCloseTo(0.3, 7)
    close(of("exponential")[0]!, 1.5, 7)
    close(of("exponential")[500]!, Math.sqrt(0.2) * 1.5, 6)
    const sigma = Math.sqrt(1 / snr[700]!)
    close(of("snr")[700]!, 0.8 / (1 + sigma) ** 2 + 0.2, 6)
    expect(huberThresholds(schedule, resolveStepOptions({ lossType: "l2" }))).toBeUndefined()
  })
})
