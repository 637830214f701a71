import { describe, expect, it } from "vitest"
import {
  Reference,
  Sample,
  T,
  type Tensor,
  tinySd1UNet,
  tinySdxlUNet,
  unet,
  unetPrefix,
  WeightScope,
} from "../../src/index.js"
import { syntheticFeeds } from "../../src/testing/syntheticWeights.js"

const schedule = Sample.discreteSchedule()
const contextDim = tinySd1UNet.contextDim
const [height, width] = [4, 4]
const latent = 4 * height * width

const values = (n: number, phase: number) =>
  Float64Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + phase))

/** The UNet alone on given (already scaled) inputs: what A1111's CompVis model computes for one half. */
const unetAlone = (scope: WeightScope, rows: number, length: number) => {
  const x = T.input("x_in", [rows, 4, height, width])
  const t = T.input("t", [rows])
  const context = T.input("context", [rows, length, contextDim])
  return unet(scope.at(unetPrefix), tinySd1UNet, { x, timesteps: t, context })
}

const build = (
  prediction: Sample.DenoiserPrediction,
  batch: number,
  condLength: number,
  uncondLength: number,
) => {
  const scope = WeightScope.root()
  const graph = Sample.denoiserGraph((inputs) => unet(scope.at(unetPrefix), tinySd1UNet, inputs), {
    batch,
    height,
    width,
    contextLength: condLength,
    uncondLength,
    contextDim,
    prediction,
  })
  return { scope, graph }
}

/** eps/v → D by hand, per row, from two separate UNet runs, then CFG on the denoised outputs. */
const byHand = (
  scope: WeightScope,
  prediction: Sample.DenoiserPrediction,
  sigmas: ReadonlyArray<number>,
  x: Float64Array,
  cond: Float64Array,
  uncond: Float64Array,
  lengths: readonly [number, number],
): ((scale: number) => Float64Array) => {
  const batch = sigmas.length
  const weights = syntheticFeeds(scope.manifest())
  const xIn = x.map((v, i) => v / Math.sqrt(sigmas[Math.floor(i / latent)]! ** 2 + 1))
  const t = Float64Array.from(sigmas, (s) => Sample.sigmaToT(schedule, s))
  const run = (context: Float64Array, length: number) =>
    Reference.evaluateExact([unetAlone(scope, batch, length)], { ...weights, x_in: xIn, t, context })[0]!
  const toDenoised = (out: ArrayLike<number>) =>
    x.map((v, i) => {
      const s = sigmas[Math.floor(i / latent)]!
      return prediction === "v" ? v / (s * s + 1) - (s / Math.sqrt(s * s + 1)) * out[i]! : v - s * out[i]!
    })
  const c = toDenoised(run(cond, lengths[0]))
  const u = toDenoised(run(uncond, lengths[1]))
  return (scale) => u.map((v, i) => v + scale * (c[i]! - v))
}

const check = (
  prediction: Sample.DenoiserPrediction,
  sigmas: ReadonlyArray<number>,
  lengths: [number, number],
) => {
  const batch = sigmas.length
  const { scope, graph } = build(prediction, batch, ...lengths)
  const evaluate = Reference.compileExact([graph.denoised])
  const x = values(batch * latent, 0.1)
  const cond = values(batch * lengths[0] * contextDim, 1.3)
  const uncond = values(batch * lengths[1] * contextDim, 2.9)
  const expected = byHand(scope, prediction, sigmas, x, cond, uncond, lengths)
  for (const scale of [7, 1.5]) {
    const [denoised] = evaluate({
      ...syntheticFeeds(scope.manifest()),
      x,
      sigma: Float64Array.from(sigmas),
      cond,
      uncond,
      cfg_scale: Float64Array.of(scale),
    })
    for (const [i, v] of expected(scale).entries()) expect(Math.abs(denoised![i]! - v)).toBeLessThan(1e-9)
  }
}

describe("the denoiser graph (k-diffusion CompVis wrapper + A1111 CFG)", () => {
  it("equals eps → D and CFG composed by hand from separate UNet runs", () => {
    check("epsilon", [3.7, 0.41], [3, 3])
  })
  it("handles v-prediction (CompVisVDenoiser)", () => {
    check("v", [14.6146], [3, 3])
  })
  it("runs cond and uncond apart when their lengths differ", () => {
    check("epsilon", [1.2], [4, 2])
  })

  it("takes the CFG scale as a scalar input and sigma per picture", () => {
    const { graph } = build("epsilon", 2, 3, 3)
    expect(graph.inputs.cfgScale.shape).toEqual([])
    expect(graph.inputs.sigma.shape).toEqual([2])
    const names = new Set<string>()
    const seen = new Set<Tensor>()
    const visit = (t: Tensor): void => {
      if (seen.has(t)) return
      seen.add(t)
      if (t.op === "input") names.add((t.attrs as { name: string }).name)
      for (const i of t.inputs) visit(i)
    }
    visit(graph.denoised)
    expect([...names].sort()).toEqual(["cfg_scale", "cond", "sigma", "uncond", "x"])
  })

  it("feeds SDXL's conditioning vectors and runs the UNet in f16 when asked", () => {
    const scope = WeightScope.root({ dtype: "f16" })
    const graph = Sample.denoiserGraph((inputs) => unet(scope.at(unetPrefix), tinySdxlUNet, inputs), {
      batch: 1,
      height,
      width,
      contextLength: 2,
      contextDim: tinySdxlUNet.contextDim,
      vectorDim: tinySdxlUNet.admInChannels!,
      dtype: "f16",
    })
    expect(graph.inputs.condVector?.shape).toEqual([1, tinySdxlUNet.admInChannels])
    expect(graph.inputs.uncondVector?.shape).toEqual([1, tinySdxlUNet.admInChannels])
    expect(graph.denoised.dtype).toBe("f32")
    expect(graph.denoised.shape).toEqual([1, 4, height, width])
  })

  it("computes k-diffusion's sigma_to_t in the graph", () => {
    const sigmas = [0.01, schedule.sigmaMin, 0.2, 1, 5.5, schedule.sigmaMax, 30]
    const sigma = T.input("s", [sigmas.length])
    const [t] = Reference.evaluateExact([Sample.sigmaToTimestep(sigma, schedule)], {
      s: Float64Array.from(sigmas),
    })
    for (const [i, s] of sigmas.entries()) expect(t![i]).toBeCloseTo(Sample.sigmaToT(schedule, s), 9)
  })
})
