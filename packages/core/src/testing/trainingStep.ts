import { grad } from "../autodiff/grad.js"
import { gelu } from "../composites/activations.js"
import type { Graph } from "../graph/graph.js"
import { add, mul, square, sub } from "../ops/elementwise.js"
import { matmul } from "../ops/linalg.js"
import { mean } from "../ops/reduce.js"
import { input, state } from "../ops/sources.js"
import { adamW, momentNames } from "../optim/adamW.js"
import { type HostTensor, zerosHost } from "../tensor/hostTensor.js"
import { drawInput } from "./draw.js"

/**
 * A whole training step as one graph: a two-layer LoRA-style model (frozen base weight plus trainable
 * down/up factors), an MSE loss, its backward pass and an AdamW update of the factors.
 */
export const trainingStepGraph = (): Graph => {
  const x = input("x", [4, 6])
  const target = input("target", [4, 5])
  const base = state("base", [6, 5])
  const down = state("down", [6, 2])
  const up = state("up", [2, 5])
  const prediction = gelu(add(matmul(x, base), mul(matmul(matmul(x, down), up), 0.5)))
  const loss = mean(square(sub(prediction, target)))
  const [gDown, gUp] = grad(loss, [down, up])
  const updates = adamW(
    [
      { param: down, grad: gDown! },
      { param: up, grad: gUp! },
    ],
    { lr: input("lr", []), step: input("step", []) },
  )
  return { outputs: { loss }, updates }
}

/** The initial state of `trainingStepGraph`: drawn weights, zero moments. */
export const trainingStepState = (): Record<string, HostTensor> => {
  const init: Record<string, HostTensor> = {
    base: drawInput({ shape: [6, 5] }, "f32", 11),
    down: drawInput({ shape: [6, 2], draw: { kind: "float", low: -0.5, high: 0.5 } }, "f32", 12),
    up: drawInput({ shape: [2, 5], draw: { kind: "float", low: -0.5, high: 0.5 } }, "f32", 13),
  }
  // AdamW's moments of the one group, down's and up's packed in one vector.
  init[momentNames(0).m] = zerosHost("f32", [6 * 2 + 2 * 5])
  init[momentNames(0).v] = zerosHost("f32", [6 * 2 + 2 * 5])
  return init
}

/** The inputs of step `k` (1-based): a fresh batch each step, a fixed learning rate. */
export const trainingStepInputs = (k: number): Record<string, HostTensor> => ({
  x: drawInput({ shape: [4, 6] }, "f32", 100 + k),
  target: drawInput({ shape: [4, 5] }, "f32", 200 + k),
  lr: { dtype: "f32", shape: [], data: Float32Array.from([0.05]) },
  step: { dtype: "f32", shape: [], data: Float32Array.from([k]) },
})
