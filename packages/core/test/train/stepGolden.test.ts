import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { momentNames, type StepOptions } from "../../src/index.js"
import { hashedUniform } from "../../src/testing/syntheticWeights.js"
import { CONTEXT_SHAPE, exactRunner, LATENT_SHAPE, raw, tinyStepState, tinyUNetStep } from "./tinyStep.js"

interface GoldenStep {
  readonly loss: number
  readonly loss_per_sample: ReadonlyArray<number>
  readonly grad_norm: number
  readonly grads?: ReadonlyArray<number>
  readonly watched_grads?: Record<string, [ReadonlyArray<number>, ReadonlyArray<number>]>
  readonly weights?: ReadonlyArray<number>
  readonly watched_weights?: Record<string, [ReadonlyArray<number>, ReadonlyArray<number>]>
}

interface GoldenTrain {
  readonly lr: number
  readonly loss_weights: ReadonlyArray<number>
  readonly modules: ReadonlyArray<string>
  readonly draws: ReadonlyArray<{ u: Array<number>; noise: Array<number>; offset_noise: Array<number> }>
  readonly cases: Record<string, { options: StepOptions; steps: ReadonlyArray<GoldenStep> }>
}

// Written by tools/reference/golden_train.py: kohya's step in PyTorch on the CompVis UNet, float64.
const golden = JSON.parse(
  readFileSync(new URL("./golden-train.json", import.meta.url), "utf8"),
) as GoldenTrain

const fingerprint = (path: string, [down, up]: ReadonlyArray<ArrayLike<number>>): number => {
  let total = 0
  for (const [part, values] of [
    ["down", down!],
    ["up", up!],
  ] as const) {
    const h = hashedUniform(`fingerprint.${path}.${part}`, values.length)
    for (let i = 0; i < values.length; i++) total += values[i]! * h[i]!
  }
  return total
}

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => {
  expect(actual.length, what).toBe(expected.length)
  const scale = Math.max(...Array.from(expected, Math.abs))
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `${what}[${i}]`).toBeLessThanOrEqual(1e-9 * scale)
  }
}

describe("the training step against kohya's step in PyTorch (tools/reference/golden_train.py)", () => {
  for (const [name, { options, steps }] of Object.entries(golden.cases)) {
    it(`${name}: loss, gradients and AdamW weights over three steps`, () => {
      const built = tinyUNetStep({ ...options, noiseSource: "inputs" })
      const modules = built.network.modules()
      expect(modules.map((m) => m.module.path).sort()).toEqual([...golden.modules].sort())
      const run = exactRunner(built.graph)
      let state = tinyStepState(built)
      const initial = { ...state }
      const offsets = new Map<string, number>()
      let packed = 0
      for (const name of built.network.tensors().keys()) {
        offsets.set(name, packed)
        packed += initial[name]!.length
      }
      expect(packed).toBe(initial[momentNames(0).m]!.length)
      const names = (path: string) => {
        const lora = modules.find((m) => m.module.path === path)!
        return [`${lora.name}.lora_down.weight`, `${lora.name}.lora_up.weight`] as const
      }
      for (const [k, expected] of steps.entries()) {
        const draw = golden.draws[k]!
        const { outputs, updates } = run({
          ...state,
          latents: raw(
            "latents",
            LATENT_SHAPE.reduce((a: number, b) => a * b, 1),
          ),
          context: raw(
            "context",
            CONTEXT_SHAPE.reduce((a: number, b) => a * b, 1),
          ),
          loss_weights: Float64Array.from(golden.loss_weights),
          lr: Float64Array.of(golden.lr),
          step: Float64Array.of(k + 1),
          "draw.noise": Float64Array.from(draw.noise),
          "draw.timesteps": Float64Array.from(draw.u),
          "draw.offset_noise": Float64Array.from(draw.offset_noise),
        })
        expectClose(outputs.loss!, [expected.loss], `step ${k + 1} loss`)
        expectClose(outputs.loss_per_sample!, expected.loss_per_sample, `step ${k + 1} per-sample loss`)
        expectClose(outputs.grad_norm!, [expected.grad_norm], `step ${k + 1} grad norm`)
        state = { ...state, ...(updates as Record<string, Float64Array>) }
        // After AdamW's first step exp_avg = (1 − β1)·g: the gradient the optimizer got, clipped. The one group's
        // moments hold the LoRA weights in the network's order, each flattened.
        const gradient = (name: string) => {
          const at = offsets.get(name)!
          return state[momentNames(0).m]!.slice(at, at + initial[name]!.length).map((m) => m / 0.1)
        }
        if (expected.grads) {
          const prints = golden.modules.map((path) => fingerprint(path, names(path).map(gradient)))
          expectClose(prints, expected.grads, "gradient fingerprints")
          for (const [path, [down, up]] of Object.entries(expected.watched_grads!)) {
            const [downName, upName] = names(path)
            expectClose(gradient(downName), down, `gradient of ${downName}`)
            expectClose(gradient(upName), up, `gradient of ${upName}`)
          }
        }
        const change = (name: string) => state[name]!.map((w, i) => w - initial[name]![i]!)
        if (expected.weights) {
          const prints = golden.modules.map((path) => fingerprint(path, names(path).map(change)))
          expectClose(prints, expected.weights, `step ${k + 1} weight fingerprints`)
        }
        for (const [path, [down, up]] of Object.entries(expected.watched_weights ?? {})) {
          const [downName, upName] = names(path)
          expectClose(state[downName]!, down, `${downName} after step ${k + 1}`)
          expectClose(state[upName]!, up, `${upName} after step ${k + 1}`)
        }
      }
    })
  }
})
