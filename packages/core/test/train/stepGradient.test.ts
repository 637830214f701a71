import { describe, expect, it } from "vitest"
import { type StepOptions, stepKey } from "../../src/index.js"
import { compileExact } from "../../src/reference/evaluate.js"
import {
  CONTEXT_SHAPE,
  exactRunner,
  LATENT_SHAPE,
  raw,
  sgdOptimizer,
  tinyStepState,
  tinyUNetStep,
} from "./tinyStep.js"

const size = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

/**
 * The step's gradient (read off a gradient-descent update with lr 1 and no clipping) against central
 * differences of its loss, in f64, with Philox noise and timesteps fixed by the key.
 */
const check = (
  options: StepOptions,
  probes: ReadonlyArray<readonly [module: number, part: "down" | "up", index: number]>,
) => {
  const built = tinyUNetStep({ ...options, maxGradNorm: 0 }, sgdOptimizer)
  const state = tinyStepState(built)
  const feeds = {
    ...state,
    latents: raw("latents", size(LATENT_SHAPE)),
    context: raw("context", size(CONTEXT_SHAPE)),
    loss_weights: Float64Array.of(1, 0.7),
    loss_mask: raw("mask", size(LATENT_SHAPE) / 4).map((v) => 0.5 + 0.5 * v),
    lr: Float64Array.of(1),
    step: Float64Array.of(1),
    noise_key: stepKey(1234, 5),
  }
  const { updates } = exactRunner(built.graph)(feeds)
  const loss = compileExact([built.graph.outputs.loss!])
  const modules = built.network.modules()
  const h = 1e-5
  for (const [m, part, index] of probes) {
    const name = `${modules[m]!.name}.lora_${part}.weight`
    const weights = feeds[name as keyof typeof feeds] as Float64Array
    const analytic = weights[index]! - updates[name]![index]!
    const original = weights[index]!
    weights[index] = original + h
    const plus = loss(feeds)[0]![0]!
    weights[index] = original - h
    const minus = loss(feeds)[0]![0]!
    weights[index] = original
    const numeric = (plus - minus) / (2 * h)
    expect(Math.abs(numeric - analytic), `${name}[${index}]: ${analytic} vs ${numeric}`).toBeLessThanOrEqual(
      1e-8 + 1e-5 * Math.abs(numeric),
    )
    expect(Math.abs(analytic)).toBeGreaterThan(1e-7)
  }
}

describe("the whole step's gradient against f64 finite differences (tiny SD1 UNet, LoRA)", () => {
  it("ε, pseudo-Huber (snr schedule), min-SNR, noise offset, multires and ip noise, masked and weighted", () => {
    check(
      {
        lossType: "huber",
        minSnrGamma: 5,
        noiseOffset: 0.1,
        noiseOffsetRandomStrength: true,
        adaptiveNoiseScale: 0.05,
        multiresNoiseIterations: 3,
        ipNoiseGamma: 0.1,
        ipNoiseGammaRandomStrength: true,
        maskedLoss: true,
        minTimestep: 100,
        maxTimestep: 900,
      },
      [
        [0, "down", 3],
        [20, "down", 1],
        [35, "up", 0],
      ],
    )
  })

  it("v-prediction, zero terminal SNR, debiased, v-like and v-scaled weights, smooth L1", () => {
    check(
      {
        predictionType: "v_prediction",
        zeroTerminalSnr: true,
        debiasedEstimationLoss: true,
        scaleVPredLossLikeNoisePred: true,
        vPredLikeLoss: 0.2,
        lossType: "smooth_l1",
        huberSchedule: "exponential",
      },
      [
        [5, "down", 2],
        [30, "up", 3],
      ],
    )
  })
})
