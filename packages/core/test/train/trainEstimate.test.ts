import { describe, expect, it } from "vitest"
import { defaultTrainConfig, type TrainConfig } from "../../src/train/config.js"
import { tinyArchitecture } from "../../src/train/syntheticCheckpoint.js"
import { estimateTraining, networkSize } from "../../src/train/trainEstimate.js"

const config = (options: Partial<TrainConfig>): TrainConfig => ({ ...defaultTrainConfig, ...options })

const estimateBase = {
  baseParameters: 1_000_000,
  network: { parameters: 10_000, optimizerStateBytes: 80_000 },
  gradientAccumulationSteps: 1,
  totalSteps: 400,
  shapes: 3,
  memory: { totalBytes: 16e6, freeBytes: 8e6 },
}

describe("networkSize", () => {
  const architecture = tinyArchitecture("sd1")

  it("grows in proportion to the rank, and the parts trained add up to the whole", () => {
    const at = (options: Partial<TrainConfig>) => networkSize(architecture, config(options)).parameters
    const rank4 = at({ networkDim: 4 })
    expect(rank4).toBeGreaterThan(0)
    // Every LoRA weight is rank × (in or out): doubling the rank doubles them.
    expect(at({ networkDim: 8 })).toBe(2 * rank4)
    expect(
      at({ networkDim: 4, networkTrainUnetOnly: true }) +
        at({ networkDim: 4, networkTrainTextEncoderOnly: true }),
    ).toBe(rank4)
  })

  it("counts the optimizer's state: AdamW keeps two f32 moments per parameter, SGD none", () => {
    const adamW = networkSize(architecture, config({ networkDim: 4, optimizerType: "AdamW" }))
    expect(adamW.optimizerStateBytes).toBe(2 * 4 * adamW.parameters)
    expect(adamW.parameterBytes).toBe(4 * adamW.parameters)
    const sgd = networkSize(architecture, config({ networkDim: 4, optimizerType: "SGDNesterov" }))
    expect(sgd.parameters).toBe(adamW.parameters)
    expect(sgd.optimizerStateBytes).toBeLessThan(adamW.optimizerStateBytes)
  })

  it("counts weights and moments held in half by full_fp16 / full_bf16 as 2 bytes each", () => {
    for (const full of [{ fullFp16: true }, { fullBf16: true }]) {
      const half = networkSize(architecture, config({ networkDim: 4, optimizerType: "AdamW", ...full }))
      expect([half.parameterBytes, half.optimizerStateBytes]).toEqual([
        2 * half.parameters,
        2 * 2 * half.parameters,
      ])
      // The gradients stay f32: 2 + 4 + 2·2 bytes a parameter.
      const estimate = estimateTraining({ ...estimateBase, network: half })
      expect(estimate.networkBytes).toBe(10 * half.parameters)
    }
  })
})

describe("estimateTraining", () => {
  const base = estimateBase

  it("adds f32 weights, LoRA weights and gradients, and the optimizer state before measuring", () => {
    const estimate = estimateTraining(base)
    expect(estimate).toEqual({
      baseWeightBytes: 4_000_000,
      networkBytes: 10_000 * 4 * 2 + 80_000,
      staticBytes: 4_160_000,
      totalSeconds: undefined,
      peakBytes: 4_160_000,
      fits: "yes",
    })
    // mixed_precision holds the base weights in half; the LoRA side stays f32.
    const half = estimateTraining({ ...base, baseWeightStorage: "bf16" })
    expect(half.baseWeightBytes).toBe(2_000_000)
    expect(half.networkBytes).toBe(estimate.networkBytes)
    // Gradient accumulation keeps one more f32 copy of the LoRA.
    expect(estimateTraining({ ...base, gradientAccumulationSteps: 4 }).networkBytes).toBe(200_000)
  })

  it("takes the time from the measured step and compile, and the fit from the measured peak", () => {
    const measured = {
      shape: "2×4×64×64",
      compileSeconds: 12,
      warmupSeconds: 20,
      stepSeconds: 1.5,
      peakBytes: 9e6,
    }
    const estimate = estimateTraining({ ...base, gradientAccumulationSteps: 2, measured })
    expect(estimate.totalSeconds).toBe(400 * 2 * 1.5 + 3 * 12)
    expect(estimate.peakBytes).toBe(9e6)
    expect(estimate.fits).toBe("tight")
    expect(estimateTraining({ ...base, measured: { ...measured, peakBytes: 17e6 } }).fits).toBe("no")
    expect(estimateTraining({ ...base, baseParameters: 5e6 }).fits).toBe("no")
  })
})
