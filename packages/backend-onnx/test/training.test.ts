import {
  adamW,
  Backend,
  type BackendShape,
  type DeviceBuffer,
  grad,
  type HostTensor,
  hostTensor,
  momentNames,
  Reference,
  T,
  type Tensor,
} from "@danlu/core"
import { Effect, type Scope } from "effect"
import { expect, it } from "vitest"
import { layer } from "../src/index.js"
import { values, worstError } from "./support.js"

/** A tiny LoRA-shaped step: frozen base weight, trainable down/up projections, MSE loss, AdamW. */
const trainingStep = () => {
  const x = T.input("x", [4, 6])
  const target = T.input("target", [4, 5])
  const lr = T.input("lr", [])
  const step = T.input("step", [])
  const base = T.state("base", [6, 5])
  const down = T.state("down", [6, 2])
  const up = T.state("up", [2, 5])
  const y = T.add(T.matmul(x, base), T.matmul(T.matmul(x, down), up))
  const loss = T.mean(T.square(T.sub(T.gelu(y), target)))
  const [gDown, gUp] = grad(loss, [down, up]) as [Tensor, Tensor]
  const updates = adamW(
    [
      { param: down as Tensor<"state">, grad: gDown },
      { param: up as Tensor<"state">, grad: gUp },
    ],
    { lr, step },
    { weightDecay: 0.1 },
  )
  return { outputs: { loss }, updates }
}

const initialStates = (): Record<string, HostTensor> => ({
  base: hostTensor("f32", [6, 5], values(30, 1)),
  down: hostTensor("f32", [6, 2], values(12, 2, -0.5, 0.5)),
  up: hostTensor("f32", [2, 5], values(10, 3, -0.5, 0.5)),
  // AdamW's moments of the group: down's 12 values, then up's 10.
  [momentNames(0).m]: hostTensor("f32", [22], new Float32Array(22)),
  [momentNames(0).v]: hostTensor("f32", [22], new Float32Array(22)),
})

/** Runs five steps on a backend; returns the losses and the final states. */
const fiveSteps = (
  backend: BackendShape,
): Effect.Effect<{ losses: Array<number>; states: Record<string, HostTensor> }, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const program = yield* backend.compile(trainingStep())
    const states: Record<string, DeviceBuffer> = {}
    for (const [name, host] of Object.entries(initialStates())) states[name] = yield* backend.upload(host)
    const losses: Array<number> = []
    for (let i = 1; i <= 5; i++) {
      const result = yield* program.run(
        {
          x: hostTensor("f32", [4, 6], values(24, 10)),
          target: hostTensor("f32", [4, 5], values(20, 20)),
          lr: hostTensor("f32", [], Float32Array.of(0.05)),
          step: hostTensor("f32", [], Float32Array.of(i)),
        },
        states,
      )
      losses.push(result.loss!.data[0]!)
    }
    const final: Record<string, HostTensor> = {}
    for (const [name, buffer] of Object.entries(states)) final[name] = yield* backend.download(buffer)
    return { losses, states: final }
  })

it("five AdamW training steps match five steps on the reference executor", async () => {
  const onOnnx = await Effect.runPromise(
    Effect.scoped(Effect.flatMap(Backend, fiveSteps)).pipe(Effect.provide(layer)),
  )
  const onReference = await Effect.runPromise(Effect.scoped(fiveSteps(Reference.makeReferenceBackend())))
  expect(onOnnx.losses[4]).toBeLessThan(onOnnx.losses[0]!)
  expect(worstError(onOnnx.losses, onReference.losses)).toBeLessThan(1)
  for (const [name, host] of Object.entries(onReference.states)) {
    expect(
      worstError(onOnnx.states[name]!.data as Float32Array, host.data as Float32Array),
      name,
    ).toBeLessThan(1)
  }
  // The frozen base weight has no update and must come back untouched.
  expect(onOnnx.states.base!.data).toEqual(initialStates().base!.data)
})
