import { describe, expect, it } from "vitest"
import { T, vjp } from "../../src/index.js"
import { evaluateExact } from "../../src/reference/evaluate.js"

describe("VJP rules on edge cases", () => {
  it("gather with no indices gives the table a zero gradient", () => {
    const table = T.input("table", [3, 2])
    const picked = T.gather(table, T.input("i", [0], "i32"))
    const [g] = vjp([picked], [T.input("c", [0, 2])], [table])
    const feeds = { table: new Float64Array(6).fill(1), i: new Int32Array(0), c: new Float64Array(0) }
    expect(Array.from(evaluateExact([g!], feeds)[0]!)).toEqual([0, 0, 0, 0, 0, 0])
  })
})
