import { Backend, type Graph, type HostTensor, Reference, type Tensor } from "@danlu/core"
import { Effect, ManagedRuntime } from "effect"
import { layer } from "../src/index.js"

/** One ONNX Runtime backend shared by a test file. */
export const onnxRuntime = () => ManagedRuntime.make(layer)

/** Compiles and runs a graph once on the backend. */
export const runGraph = (
  runtime: ManagedRuntime.ManagedRuntime<Backend, never>,
  graph: Graph,
  inputs: Record<string, HostTensor>,
): Promise<Record<string, HostTensor>> =>
  runtime.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const backend = yield* Backend
        const program = yield* backend.compile(graph)
        return yield* program.run(inputs)
      }),
    ),
  )

/** The f64 truth for tensors fed from host tensors. */
export const exact = (outputs: ReadonlyArray<Tensor>, feeds: Record<string, HostTensor>) =>
  Reference.evaluateExact(
    outputs,
    Object.fromEntries(Object.entries(feeds).map(([name, host]) => [name, Reference.refFromHost(host)])),
  )

/** Deterministic values in [low, high) (mulberry32). */
export const values = (count: number, seed: number, low = -1, high = 1): Float32Array => {
  const out = new Float32Array(count)
  let state = seed >>> 0
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    out[i] = low + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (high - low)
  }
  return out
}

/** Largest |a − b| / (atol + rtol·|b|); ≤ 1 means within tolerance. */
export const worstError = (
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol = 1e-5,
  rtol = 1e-4,
): number => {
  let worst = 0
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!
    worst = Math.max(worst, Math.abs(actual[i]! - e) / (atol + rtol * Math.abs(e)))
  }
  return worst
}
