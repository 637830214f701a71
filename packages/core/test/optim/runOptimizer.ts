import { input, state } from "../../src/ops/sources.js"
import type { Optimizer } from "../../src/optim/optimizer.js"
import { compileExact, type RefArray, refFromHost } from "../../src/reference/index.js"
import type { Shape } from "../../src/tensor/shape.js"

export interface TestParam {
  readonly name: string
  readonly shape: Shape
  readonly init: Float64Array
  /** Index of the parameter's group (default 0). */
  readonly group?: number
}

/** Deterministic values in [−scale, scale) from a small LCG, so tests need no fixtures. */
export const draw = (n: number, seed: number, scale = 1): Float64Array => {
  let s = seed >>> 0
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return (s / 2 ** 32 - 0.5) * 2 * scale
  })
}

/**
 * Runs `optimizer.update` in f64 on the exact reference evaluator for `steps` steps from its `initialState`,
 * feeding `grads(step)` and `lrs(step)` (one lr per group), and returns every state after each step.
 */
export const runOptimizer = (
  optimizer: Optimizer,
  params: ReadonlyArray<TestParam>,
  steps: number,
  grads: (step: number) => Record<string, Float64Array>,
  lrs: (step: number) => ReadonlyArray<number>,
): Array<Record<string, RefArray>> => {
  const groupCount = Math.max(...params.map((p) => p.group ?? 0)) + 1
  const groups = Array.from({ length: groupCount }, (_, i) => ({
    lr: input(`lr${i}`, []),
    trainables: params
      .filter((p) => (p.group ?? 0) === i)
      .map((p) => ({ param: state(p.name, p.shape), grad: input(`grad.${p.name}`, p.shape) })),
  }))
  const updates = optimizer.update(groups, input("step", []))
  const names = Object.keys(updates)
  const run = compileExact(names.map((n) => updates[n]!))
  const initial = optimizer.initialState(
    Array.from({ length: groupCount }, (_, i) =>
      params.filter((p) => (p.group ?? 0) === i).map((p) => ({ name: p.name, shape: p.shape, dtype: "f32" })),
    ),
  )
  let states: Record<string, RefArray> = {
    ...Object.fromEntries(Object.entries(initial).map(([k, v]) => [k, refFromHost(v)])),
    ...Object.fromEntries(params.map((p) => [p.name, Float64Array.from(p.init)])),
  }
  const history: Array<Record<string, RefArray>> = []
  for (let t = 1; t <= steps; t++) {
    const g = grads(t)
    const lr = lrs(t)
    const outputs = run({
      ...states,
      ...Object.fromEntries(params.map((p) => [`grad.${p.name}`, g[p.name]!])),
      ...Object.fromEntries(lr.map((v, i) => [`lr${i}`, Float64Array.of(v)])),
      step: Float64Array.of(t),
    })
    states = { ...states, ...Object.fromEntries(names.map((n, i) => [n, outputs[i]!])) }
    history.push(states)
  }
  return history
}

/** Asserts two arrays agree to a relative-or-absolute tolerance, naming the first element that does not. */
export const expectClose = (
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance = 1e-12,
): void => {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`)
  for (let i = 0; i < actual.length; i++) {
    const [a, e] = [actual[i]!, expected[i]!]
    if (!(Math.abs(a - e) <= tolerance * Math.max(1, Math.abs(e))))
      throw new Error(`element ${i}: ${a} ≠ ${e} (tolerance ${tolerance})`)
  }
}
