import { Backend, hostTensor, T } from "@danlu/core"
import { Effect } from "effect"
import { expect, it, vi } from "vitest"
import { layer } from "../src/index.js"

// A machine where the ONNX Runtime native module is missing or broken.
vi.mock("onnxruntime-node", () => {
  throw new Error("libonnxruntime.so.1: cannot open shared object file\nstack...")
})

it("builds the layer without loading anything, then says in one line why it cannot run", async () => {
  const flip = <A, E>(effect: Effect.Effect<A, E, Backend | import("effect").Scope.Scope>) =>
    Effect.runPromise(Effect.flip(Effect.scoped(effect)).pipe(Effect.provide(layer)))
  const described = await flip(Effect.flatMap(Backend, (b) => b.describe))
  expect(described._tag).toBe("BackendUnavailable")
  expect(described.message).toMatch(
    /^onnxruntime is unavailable: cannot load onnxruntime-node \(.+\); reinstall it with npm install onnxruntime-node$/,
  )
  expect(described.message).not.toContain("\n")
  const compiled = await flip(
    Effect.flatMap(Backend, (b) => b.compile({ outputs: { y: T.exp(T.input("x", [1])) } })),
  )
  expect(compiled._tag).toBe("BackendUnavailable")
  const uploaded = await flip(
    Effect.flatMap(Backend, (b) => b.upload(hostTensor("f32", [1], new Float32Array(1)))),
  )
  expect(uploaded._tag).toBe("BackendUnavailable")
})
