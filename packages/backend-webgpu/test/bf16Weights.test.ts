import { Backend, hostTensor, T } from "@danlu/core"
import { Effect } from "effect"
import { expect, it } from "vitest"
import { WebGpu } from "../src/index.js"
import { unavailableReason } from "./adapter.js"

const skip = await unavailableReason()

it.skipIf(skip !== undefined)("holds bf16 weights two to a word and casts them to f32 exactly", async () => {
  // An odd number of patterns, so the last word is half used; finite and normal (GPUs may flush subnormals).
  const bits = Uint16Array.from({ length: 1021 }, (_, i) => (i * 64 + 5) & 0xffff).filter(
    (b) => (b & 0x7f80) !== 0x7f80 && (b & 0x7f80) !== 0,
  )
  expect(bits.length % 2).toBe(1)
  const w = T.state("w", [bits.length], "bf16")
  const out = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const backend = yield* Backend
        const program = yield* backend.compile({ outputs: { wide: T.mul(T.cast(w, "f32"), 2) } })
        const states = { w: yield* backend.upload(hostTensor("bf16", [bits.length], bits)) }
        return (yield* program.run({}, states)).wide!.data as Float32Array
      }),
    ).pipe(Effect.provide(WebGpu.layer())),
  )
  const expected = new Float32Array(Uint32Array.from(bits, (b) => b << 16).buffer).map((v) => v * 2)
  expect(Array.from(out)).toEqual(Array.from(expected))
})
