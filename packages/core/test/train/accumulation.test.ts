import { describe, expect, it } from "vitest"
import { analyzeGraph, buildTrainingStep, T, type Tensor } from "../../src/index.js"
import type { RefArray } from "../../src/reference/storage.js"
import { adamWOptimizer, exactRunner, raw } from "./tinyStep.js"

const [C, H, W] = [4, 8, 8]

/** A small stand-in denoiser: a 3×3 conv with a LoRA-style 1×1 down/up pair and a timestep-scaled bias. */
const step = (batch: number, gradientAccumulationSteps: number) => {
  const down = T.state("down", [2, C, 1, 1])
  const up = T.state("up", [C, 2, 1, 1])
  const base = T.state("base", [C, C, 3, 3])
  const bias = T.state("bias", [1, C, 1, 1])
  const latents = T.input("latents", [batch, C, H, W])
  return buildTrainingStep({
    latents,
    denoise: (x, t) =>
      T.add(
        T.add(T.conv2d(x, base, { padding: 1 }), T.conv2d(T.conv2d(x, down), up)),
        T.mul(T.reshape(T.mul(t, 1 / 1000), [batch, 1, 1, 1]), bias),
      ),
    groups: [
      { trainables: [down, up] as Array<Tensor<"state">>, lr: T.input("lr_lora", []) },
      { trainables: [bias] as Array<Tensor<"state">>, lr: T.input("lr_bias", []) },
    ],
    optimizer: adamWOptimizer,
    options: { noiseSource: "inputs", gradientAccumulationSteps, maxGradNorm: 0.05, minSnrGamma: 5 },
  })
}

const weights = (): Record<string, Float64Array> => ({
  down: raw("acc.down", 2 * C).map((v) => v * 0.5),
  up: raw("acc.up", 2 * C).map((v) => v * 0.5),
  base: raw("acc.base", C * C * 9).map((v) => v / 6),
  bias: raw("acc.bias", C),
})

const batchFeeds = (from: number, to: number) => {
  const per = C * H * W
  return {
    latents: raw("acc.latents", 4 * per).slice(from * per, to * per),
    loss_weights: Float64Array.of(1, 0.7, 1, 0.4).slice(from, to),
    "draw.noise": raw("acc.noise", 4 * per).slice(from * per, to * per),
    "draw.timesteps": Float64Array.of(0.1, 0.9, 0.25, 0.6).slice(from, to),
  }
}

const scalars = { lr_lora: Float64Array.of(0.01), lr_bias: Float64Array.of(0.002), step: Float64Array.of(1) }

const zeroStates = (graph: ReturnType<typeof step>["graph"], init: Record<string, RefArray>) => {
  const out: Record<string, RefArray> = { ...init }
  for (const spec of analyzeGraph(graph).states) {
    out[spec.name] ??= new Float64Array(spec.shape.reduce((a, b) => a * b, 1))
  }
  return out
}

describe("gradient accumulation", () => {
  it("two micro-steps of batch 2 equal one step of batch 4 (l2, clipped, two lr groups)", () => {
    const whole = step(4, 1)
    const big = exactRunner(whole.graph)({
      ...zeroStates(whole.graph, weights()),
      ...batchFeeds(0, 4),
      ...scalars,
    })

    const micro = step(2, 2)
    expect(Object.keys(micro.initialState).sort()).toEqual(["accum.bias", "accum.down", "accum.up"])
    for (const value of Object.values(micro.initialState))
      expect(Array.from(value.data).every((v) => v === 0)).toBe(true)
    const run = exactRunner(micro.graph)
    let state = zeroStates(micro.graph, weights())
    const first = run({ ...state, ...batchFeeds(0, 2), ...scalars, apply_update: Float64Array.of(0) })
    for (const name of ["down", "up", "bias", "optimizer.group0.exp_avg", "optimizer.group1.exp_avg_sq"]) {
      expect(Array.from(first.updates[name]!)).toEqual(Array.from(state[name]!))
    }
    expect(first.updates["accum.down"]!.some((v) => v !== 0)).toBe(true)
    state = { ...state, ...first.updates }
    const second = run({ ...state, ...batchFeeds(2, 4), ...scalars, apply_update: Float64Array.of(1) })

    const losses = [first.outputs.loss![0]!, second.outputs.loss![0]!]
    expect((losses[0]! + losses[1]!) / 2).toBeCloseTo(big.outputs.loss![0]!, 12)
    const perSample = [...first.outputs.loss_per_sample!, ...second.outputs.loss_per_sample!]
    for (const [i, v] of big.outputs.loss_per_sample!.entries()) expect(perSample[i]).toBeCloseTo(v, 12)
    expect(second.outputs.grad_norm![0]).toBeCloseTo(big.outputs.grad_norm![0]!, 12)
    expect(big.outputs.grad_norm![0]).toBeGreaterThan(0.05)
    for (const [name, value] of Object.entries(big.updates)) {
      const accumulated = second.updates[name]!
      for (let i = 0; i < value.length; i++) expect(accumulated[i]).toBeCloseTo(value[i]!, 12)
    }
    for (const name of ["accum.down", "accum.up", "accum.bias"]) {
      expect(Array.from(second.updates[name]!).every((v) => v === 0)).toBe(true)
    }
  })
})
