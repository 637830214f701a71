import { describe, expect, it } from "vitest"
import {
  buildTrainingStep,
  buildValidationLoss,
  drawTimesteps,
  philoxDraws,
  Random,
  resolveStepOptions,
  stepDraws,
  stepKey,
  stepNoise,
  T,
  type Tensor,
} from "../../src/index.js"
import { compileExact } from "../../src/reference/evaluate.js"
import { raw, sgdOptimizer } from "./tinyStep.js"

const [B, C, H, W] = [2, 4, 8, 12]
const N = B * C * H * W
const SEED = 987654321
const STEP = 41

/** torch's bilinear resize (align_corners=False) of an h×w plane to H×W, written per output pixel. */
const bilinear =
  (plane: (y: number, x: number) => number, h: number, w: number) => (y: number, x: number) => {
    const axis = (dst: number, from: number, to: number) => {
      const src = Math.max((dst + 0.5) * (from / to) - 0.5, 0)
      const lo = Math.floor(src)
      return [lo, lo < from - 1 ? lo + 1 : lo, src - lo] as const
    }
    const [y0, y1, ly] = axis(y, h, H)
    const [x0, x1, lx] = axis(x, w, W)
    return (
      (1 - ly) * ((1 - lx) * plane(y0, x0) + lx * plane(y0, x1)) +
      ly * ((1 - lx) * plane(y1, x0) + lx * plane(y1, x1))
    )
  }

const draw = (index: number, n: number, kind: "normal" | "uniform") =>
  (kind === "normal" ? Random.normalF32 : Random.uniformF32)(n, SEED, Random.drawOffset(STEP, index))

/** kohya's get_noise_noisy_latents_and_timesteps noise, in f64 from the host's Philox draws. */
const kohyaNoise = (
  latents: Float64Array,
  o: { offset: number; adaptive: number; iterations: number; discount: number; gamma: number },
) => {
  const at = (b: number, c: number, y: number, x: number) => ((b * C + c) * H + y) * W + x
  const noise = Float64Array.from(draw(stepDraws.noise, N, "normal"))
  const strength = draw(stepDraws.offset_strength, 1, "uniform")[0]! * o.offset
  const offsetNoise = draw(stepDraws.offset_noise, B * C, "normal")
  for (let bc = 0; bc < B * C; bc++) {
    let mean = 0
    for (let i = 0; i < H * W; i++) mean += latents[bc * H * W + i]!
    const offset = Math.max(0, strength + o.adaptive * Math.abs(mean / (H * W)))
    for (let i = 0; i < H * W; i++) noise[bc * H * W + i]! += offset * offsetNoise[bc]!
  }
  const scales = draw(stepDraws.multires_scales, o.iterations, "uniform")
  for (let i = 0; i < o.iterations; i++) {
    const r = 2 + 2 * scales[i]!
    const h = Math.max(1, Math.floor(H / r ** i))
    const w = Math.max(1, Math.floor(W / r ** i))
    const level = draw(stepDraws.multires_noise + i, N, "normal")
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const up = bilinear((y, x) => level[at(b, c, y, x)]!, h, w)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) noise[at(b, c, y, x)]! += up(y, x) * o.discount ** i
      }
    }
    if (h === 1 || w === 1) break
  }
  const mean = noise.reduce((a, b) => a + b) / N
  const std = Math.sqrt(noise.reduce((a, v) => a + (v - mean) ** 2, 0) / (N - 1))
  const target = noise.map((v) => v / std)
  const gamma = draw(stepDraws.ip_strength, 1, "uniform")[0]! * o.gamma
  const ip = draw(stepDraws.ip_noise, N, "normal")
  return { target, input: target.map((v, i) => v + gamma * ip[i]!) }
}

describe("the step's noise and timesteps", () => {
  it("keys each micro-step's draws apart", () => {
    expect(Array.from(stepKey(SEED, STEP))).toEqual(
      Array.from(Random.fillKey(SEED, Random.drawOffset(STEP, 0))),
    )
  })

  it("follows kohya's noise offset, multires noise and input perturbation, drawn from Philox", () => {
    const options = resolveStepOptions({
      noiseOffset: 0.1,
      noiseOffsetRandomStrength: true,
      adaptiveNoiseScale: 0.3,
      multiresNoiseIterations: 5,
      multiresNoiseDiscount: 0.4,
      ipNoiseGamma: 0.1,
      ipNoiseGammaRandomStrength: true,
      minTimestep: 200,
      maxTimestep: 700,
    })
    const latents = T.input("latents", [B, C, H, W])
    const draws = philoxDraws(T.input("noise_key", [4], "u32"))
    const { noise, inputNoise } = stepNoise(latents, draws, options)
    const timesteps = drawTimesteps(B, draws, options)
    const latentValues = raw("noise.latents", N).map((v) => v + 0.3)
    const [gotNoise, gotInput, gotTimesteps] = compileExact([noise, inputNoise, timesteps])({
      latents: latentValues,
      noise_key: stepKey(SEED, STEP),
    })
    const expected = kohyaNoise(latentValues, {
      offset: 0.1,
      adaptive: 0.3,
      iterations: 5,
      discount: 0.4,
      gamma: 0.1,
    })
    for (let i = 0; i < N; i++) {
      expect(gotNoise![i]).toBeCloseTo(expected.target[i]!, 12)
      expect(gotInput![i]).toBeCloseTo(expected.input[i]!, 12)
    }
    const u = draw(stepDraws.timesteps, B, "uniform")
    expect(Array.from(gotTimesteps!)).toEqual(Array.from(u, (v) => Math.floor(v * 500) + 200))
  })

  it("uses maxTimestep for every sample when minTimestep ≥ maxTimestep, as kohya", () => {
    const t = drawTimesteps(
      3,
      philoxDraws(T.input("noise_key", [4], "u32")),
      resolveStepOptions({ minTimestep: 600, maxTimestep: 600 }),
    )
    expect(Array.from(compileExact([t])({ noise_key: stepKey(1, 0) })[0]!)).toEqual([600, 600, 600])
    expect(() => resolveStepOptions({ minTimestep: 0, maxTimestep: 1001 })).toThrow(RangeError)
  })
})

describe("the validation loss", () => {
  const denoise = (state: Tensor) => (x: Tensor, t: Tensor) =>
    T.add(T.mul(x, state), T.reshape(T.mul(t, 1e-3), [B, 1, 1, 1]))
  const feeds = (key: Uint32Array) => ({
    latents: raw("validation.latents", N),
    loss_weights: Float64Array.of(1, 0.5),
    w: Float64Array.of(0.3),
    lr: Float64Array.of(0),
    step: Float64Array.of(1),
    noise_key: key,
  })

  it("averages the step's loss at kohya's fixed timesteps, each on its own draws of the fixed key", () => {
    const options = { minSnrGamma: 5, noiseOffset: 0.05 }
    const w = T.state("w", [])
    const validation = buildValidationLoss({
      latents: T.input("latents", [B, C, H, W]),
      denoise: denoise(w),
      options,
      timesteps: [10, 650],
    })
    const key = stepKey(77, 0)
    const [loss, perSample] = compileExact([
      validation.graph.outputs.loss!,
      validation.graph.outputs.loss_per_sample!,
    ])(feeds(key))
    const stepAt = (t: number, round: number) => {
      const step = buildTrainingStep({
        latents: T.input("latents", [B, C, H, W]),
        denoise: denoise(w),
        groups: [{ trainables: [w], lr: T.input("lr", []) }],
        optimizer: sgdOptimizer,
        options: { ...options, minTimestep: t, maxTimestep: t },
      })
      const shifted = Uint32Array.from(key)
      shifted[2]! += round * 2048
      return compileExact([step.graph.outputs.loss!, step.graph.outputs.loss_per_sample!])(feeds(shifted))
    }
    const [a, b] = [stepAt(10, 0), stepAt(650, 1)]
    expect(loss![0]).toBeCloseTo((a[0]![0]! + b[0]![0]!) / 2, 12)
    for (let i = 0; i < B; i++) expect(perSample![i]).toBeCloseTo((a[1]![i]! + b[1]![i]!) / 2, 12)
    expect(a[0]![0]).not.toBeCloseTo(b[0]![0]!, 3)
  })
})
