import { Effect } from "effect"
import { expect, it } from "vitest"
import { Backend, grad, Reference, T } from "../src/index.js"

// The example at the top of the README, kept runnable.
it("README example: a three-step gradient descent on the reference backend", async () => {
  const x = T.input("x", [8, 16])
  const w = T.state("w", [16, 4])
  const loss = T.mean(T.square(T.gelu(T.matmul(x, w))))
  const [dw] = grad(loss, [w])
  const losses: Array<number> = []
  const program = Effect.gen(function* () {
    const backend = yield* Backend
    const step = yield* backend.compile({ outputs: { loss }, updates: { w: T.sub(w, T.mul(dw!, 0.1)) } })
    const weights = yield* backend.upload({
      dtype: "f32",
      shape: [16, 4],
      data: new Float32Array(64).fill(0.1),
    })
    const batch = { x: { dtype: "f32" as const, shape: [8, 16], data: new Float32Array(128).fill(1) } }
    for (let i = 0; i < 3; i++) losses.push((yield* step.run(batch, { w: weights })).loss!.data[0]!)
  })
  await Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(Reference.layer)))
  expect(losses[1]).toBeLessThan(losses[0]!)
  expect(losses[2]).toBeLessThan(losses[1]!)
})
