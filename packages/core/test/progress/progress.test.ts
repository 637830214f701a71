import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Progress, type ProgressEvent, progressCounter, withProgress } from "../../src/progress/progress.js"

describe("Progress", () => {
  it("is silent unless provided, and goes to the provided emitter inside withProgress", async () => {
    const report = Effect.gen(function* () {
      ;(yield* Progress).emit({ type: "note", task: "t", message: "hello" })
    })
    await Effect.runPromise(report)
    const seen: Array<ProgressEvent> = []
    await Effect.runPromise(report.pipe(withProgress((e) => seen.push(e))))
    expect(seen).toEqual([{ type: "note", task: "t", message: "hello" }])
  })

  it("counts units with the rate since the start and the time left, not counting units done before", () => {
    const seen: Array<ProgressEvent> = []
    let t = 100
    const counter = progressCounter(
      { emit: (e) => seen.push(e) },
      { task: "xyz", unit: "cell", total: 10, done: 4 },
      () => t,
    )
    counter.start()
    t = 102
    counter.advance("a.png", { file: "a.png" })
    t = 104
    counter.advance()
    expect(seen).toEqual([
      { type: "progress", task: "xyz", unit: "cell", done: 4, total: 10 },
      {
        type: "progress",
        task: "xyz",
        unit: "cell",
        done: 5,
        total: 10,
        rate: 0.5,
        etaSeconds: 10,
        detail: "a.png",
        fields: { file: "a.png" },
      },
      { type: "progress", task: "xyz", unit: "cell", done: 6, total: 10, rate: 0.5, etaSeconds: 8 },
    ])
  })
})
