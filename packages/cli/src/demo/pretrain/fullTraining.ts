import {
  Backend,
  type BackendError,
  type DeviceBuffer,
  type Graph,
  grad,
  type HostTensor,
  hostTensor,
  makeOptimizer,
  paramSpec,
  T,
  type Tensor,
  type TensorSpec,
} from "@danlu/core"
import { Effect } from "effect"

/** The step graph of full training: the loss's gradient, clipped to norm 1, into AdamW over every parameter. */
export const fullTrainingGraph = (
  loss: Tensor,
  params: ReadonlyArray<Tensor<"state">>,
  outputs: Readonly<Record<string, Tensor>> = {},
): { readonly graph: Graph; readonly optimizerState: Record<string, HostTensor> } => {
  const optimizer = makeOptimizer("AdamW", ["weight_decay=0"])
  const grads = grad(loss, params)
  const norm = T.sqrt(grads.map((g): Tensor => T.sum(T.square(g))).reduce((a, b) => T.add(a, b)))
  const clip = T.minimum(T.div(1, T.add(norm, 1e-6)), 1)
  const updates = optimizer.update(
    [
      {
        lr: T.input("lr", []),
        trainables: params.map((param, i) => ({ param, grad: T.mul(grads[i]!, clip) })),
      },
    ],
    T.input("step", []),
  )
  return {
    graph: { outputs: { loss, grad_norm: norm, ...outputs }, updates },
    optimizerState: optimizer.initialState([params.map(paramSpec)]),
  }
}

/** Cosine decay from `peak` to a tenth of it after a linear warmup: steady early, fine at the end. */
export const cosineLr = (peak: number, step: number, total: number, warmup: number): number => {
  if (step < warmup) return (peak * (step + 1)) / warmup
  const progress = (step - warmup) / Math.max(1, total - warmup)
  return peak * (0.1 + 0.45 * (1 + Math.cos(Math.PI * progress)))
}

export interface FullTrainingRun {
  readonly graph: Graph
  /** The starting value of every state the program reads (weights, optimizer moments). */
  readonly initial: (spec: TensorSpec) => HostTensor
  readonly steps: number
  /** The batch and scalars of step `step` (0-based), besides `lr` and `step`. */
  readonly inputs: (step: number) => Effect.Effect<Record<string, HostTensor>>
  readonly lr: (step: number) => number
  readonly onStep: (step: number, loss: number) => Effect.Effect<void>
  /** States to download at the end. */
  readonly keep: ReadonlyArray<string>
}

/** Compiles the step once, keeps every state on the device for the whole run, and returns the kept states. */
export const runFullTraining = (
  run: FullTrainingRun,
): Effect.Effect<Record<string, HostTensor>, BackendError, Backend> =>
  Effect.scoped(
    Effect.gen(function* () {
      const backend = yield* Backend
      const program = yield* backend.compile(run.graph)
      const states: Record<string, DeviceBuffer> = {}
      for (const spec of program.states) states[spec.name] = yield* backend.upload(run.initial(spec))
      for (let step = 0; step < run.steps; step++) {
        const out = yield* program.run(
          {
            ...(yield* run.inputs(step)),
            lr: hostTensor("f32", [], Float32Array.of(run.lr(step))),
            step: hostTensor("f32", [], Float32Array.of(step + 1)),
          },
          states,
        )
        yield* run.onStep(step, (out.loss!.data as Float32Array)[0]!)
      }
      const kept: Record<string, HostTensor> = {}
      for (const name of run.keep) {
        const buffer = states[name]
        if (buffer) kept[name] = yield* backend.download(buffer)
      }
      return kept
    }),
  )
