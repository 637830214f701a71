import { describe, expect, it } from "vitest"
import { openSession, T } from "../../src/index.js"
import { makeOptimizer } from "../../src/optim/makeOptimizer.js"
import { draw, expectClose, runOptimizer, type TestParam } from "./runOptimizer.js"

const params: Array<TestParam> = [
  { name: "a", shape: [600], init: draw(600, 11, 0.5) },
  { name: "b", shape: [4, 5], init: draw(20, 12, 0.5), group: 1 },
]
const grads = (t: number): Record<string, Float64Array> => ({
  a: draw(600, 700 + t, 0.1),
  b: draw(20, 800 + t, 0.1),
})
const lrs = (t: number) => [0.01 / t, 0.005]

const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["AdamW", []],
  ["AdamW8bit", ["min_8bit_size=512"]],
  ["Lion", []],
  ["SGDNesterov", []],
  ["Prodigy", []],
  ["Adafactor", []],
  ["DAdaptAdam", []],
  ["DAdaptation", []],
]

describe("optimizers on the reference backend", () => {
  it.each(cases)(
    "%s compiles, binds its initial state and steps in float32 as in f64",
    async (type, args) => {
      const optimizer = makeOptimizer(type, args)
      const session = await openSession()
      try {
        const groups = [0, 1].map((i) => ({
          lr: T.input(`lr${i}`, []),
          trainables: params
            .filter((p) => (p.group ?? 0) === i)
            .map((p) => ({ param: T.state(p.name, p.shape), grad: T.input(`grad.${p.name}`, p.shape) })),
        }))
        const program = await session.compile({
          outputs: {},
          updates: optimizer.update(groups, T.input("step", [])),
        })
        const states = Object.fromEntries(
          await Promise.all(
            Object.entries({
              ...optimizer.initialState(
                groups.map((g) =>
                  g.trainables.map(({ param }) => ({
                    name: param.attrs.name,
                    shape: param.shape,
                    dtype: "f32",
                  })),
                ),
              ),
              ...Object.fromEntries(
                params.map((p) => [
                  p.name,
                  { dtype: "f32" as const, shape: p.shape, data: Float32Array.from(p.init) },
                ]),
              ),
            }).map(async ([name, host]) => [name, await session.upload(host)] as const),
          ),
        )
        const scalar = (v: number) => ({ dtype: "f32" as const, shape: [], data: Float32Array.of(v) })
        for (let t = 1; t <= 3; t++) {
          const g = grads(t)
          await program.run(
            {
              step: scalar(t),
              ...Object.fromEntries(lrs(t).map((v, i) => [`lr${i}`, scalar(v)])),
              ...Object.fromEntries(
                params.map((p) => [
                  `grad.${p.name}`,
                  { dtype: "f32" as const, shape: p.shape, data: Float32Array.from(g[p.name]!) },
                ]),
              ),
            },
            states,
          )
        }
        const exact = runOptimizer(optimizer, params, 3, grads, lrs)[2]!
        for (const p of params) {
          const actual = (await session.download(states[p.name]!)).data
          expect(actual).toBeInstanceOf(Float32Array)
          expectClose(actual, exact[p.name]!, 1e-4)
        }
      } finally {
        await session.close()
      }
    },
  )
})
