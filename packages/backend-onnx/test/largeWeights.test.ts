import { Backend, T } from "@danlu/core"
import { Effect } from "effect"
import { expect, it } from "vitest"
import { layer, lowerGraph } from "../src/index.js"

it("compiles a graph whose weights exceed protobuf's 2 GB limit: weights are inputs, not initializers", async () => {
  // 2.4 GB of f32 weight, declared but never allocated: compiling does not touch state data.
  const weight = T.state("unet.weight", [600_000_000])
  const x = T.input("x", [600_000_000])
  const graph = { outputs: { y: T.sum(T.mul(x, weight)) } }
  expect(lowerGraph(graph, new Set()).model.byteLength).toBeLessThan(4096)
  const program = await Effect.runPromise(
    Effect.scoped(Effect.flatMap(Backend, (backend) => backend.compile(graph))).pipe(Effect.provide(layer)),
  )
  expect(program.states).toEqual([{ name: "unet.weight", shape: [600_000_000], dtype: "f32" }])
})
