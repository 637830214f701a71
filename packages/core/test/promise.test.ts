import { describe, expect, it } from "vitest"
import { openSession, T } from "../src/index.js"

describe("Promise API", () => {
  it("compiles and runs a graph with state on the default (reference) backend", async () => {
    const session = await openSession()
    try {
      const w = T.state("w", [3])
      const program = await session.compile({
        outputs: { y: T.sum(T.mul(w, T.input("x", [3]))) },
        updates: { w: T.mul(w, 2) },
      })
      const weights = await session.upload({ dtype: "f32", shape: [3], data: Float32Array.from([1, 2, 3]) })
      const x = { dtype: "f32" as const, shape: [3], data: Float32Array.from([1, 1, 1]) }
      expect((await program.run({ x }, { w: weights })).y!.data[0]).toBe(6)
      expect((await program.run({ x }, { w: weights })).y!.data[0]).toBe(12)
      expect(Array.from((await session.download(weights)).data)).toEqual([4, 8, 12])
    } finally {
      await session.close()
    }
  })
  it("rejects with the typed error", async () => {
    const session = await openSession()
    const program = await session.compile({ outputs: { y: T.neg(T.input("x", [2])) } })
    await expect(program.run({})).rejects.toMatchObject({ _tag: "ProgramInputError" })
    await session.close()
  })
})
