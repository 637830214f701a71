import { describe, expect, it } from "vitest"
import { input, state } from "../../src/ops/sources.js"
import { adamW, adamWOptimizer, momentNames } from "../../src/optim/adamW.js"
import { paramStateName } from "../../src/optim/optimizer.js"
import { compileExact } from "../../src/reference/evaluate.js"
import { type RefArray, refFromHost } from "../../src/reference/storage.js"
import { roundToF16 } from "../../src/tensor/halfFloat.js"
import { type HostTensor, hostTensor } from "../../src/tensor/hostTensor.js"
import { castHostFloat } from "../../src/train/baseWeights.js"
import { draw, expectClose, runOptimizer } from "./runOptimizer.js"

/** torch.optim.AdamW's update written out plainly, element by element, as its documentation states it. */
const torchAdamW = (p: number, g: number, m: number, v: number, lr: number, t: number) => {
  const [beta1, beta2, eps, wd] = [0.9, 0.999, 1e-8, 0.01]
  const decayed = p * (1 - lr * wd)
  const m1 = beta1 * m + (1 - beta1) * g
  const v1 = beta2 * v + (1 - beta2) * g * g
  const stepSize = lr / (1 - beta1 ** t)
  const denominator = Math.sqrt(v1) / Math.sqrt(1 - beta2 ** t) + eps
  return { p: decayed - (stepSize * m1) / denominator, m: m1, v: v1 }
}

describe("AdamW", () => {
  it("matches torch's AdamW arithmetic over several steps, the group's moments packed in one vector each", () => {
    const [w, u] = [state("w", [3]), state("u", [2, 2])]
    const [gw, gu] = [input("gw", [3]), input("gu", [2, 2])]
    const updates = adamW(
      [
        { param: w, grad: gw },
        { param: u, grad: gu },
      ],
      { lr: input("lr", []), step: input("step", []) },
    )
    const names = momentNames(0)
    expect(Object.keys(updates).sort()).toEqual([names.m, names.v, "u", "w"].sort())
    expect(updates[names.m]!.shape).toEqual([7])
    const step = compileExact([updates.w!, updates.u!, updates[names.m]!, updates[names.v]!])
    let [pw, pu, m, v]: Array<RefArray> = [
      Float64Array.from([0.5, -1, 2]),
      Float64Array.from([0.25, 3, -0.75, 1]),
      new Float64Array(7),
      new Float64Array(7),
    ]
    // Torch's per-tensor state: w's elements then u's, so its moments are the packed vectors' slices.
    const expected = { p: [0.5, -1, 2, 0.25, 3, -0.75, 1], m: new Array(7).fill(0), v: new Array(7).fill(0) }
    for (let t = 1; t <= 4; t++) {
      const g = [0.1 * t, -0.3, 0.05 / t, 0.2, -0.1 * t, 0.4 / t, 0.01]
      ;[pw, pu, m, v] = step({
        w: pw!,
        u: pu!,
        gw: Float64Array.from(g.slice(0, 3)),
        gu: Float64Array.from(g.slice(3)),
        lr: Float64Array.of(0.01),
        step: Float64Array.of(t),
        [names.m]: m!,
        [names.v]: v!,
      })
      for (let i = 0; i < 7; i++) {
        const next = torchAdamW(expected.p[i]!, g[i]!, expected.m[i]!, expected.v[i]!, 0.01, t)
        expected.p[i] = next.p
        expected.m[i] = next.m
        expected.v[i] = next.v
      }
      expectClose([...pw!, ...pu!], expected.p)
      expectClose(m!, expected.m)
      expectClose(v!, expected.v)
    }
  })

  it("lays out one moment pair per group, in the group's dtype when its parameters share one and f32 otherwise", () => {
    const state = adamWOptimizer().initialState([
      [
        { name: "a", shape: [2, 3], dtype: "f16" },
        { name: "b", shape: [4], dtype: "f16" },
      ],
      [],
      [
        { name: "c", shape: [5], dtype: "bf16" },
        { name: "d", shape: [1], dtype: "f32" },
      ],
    ])
    expect(
      Object.entries(state)
        .map(([name, t]) => [name, t.dtype, t.shape])
        .sort(),
    ).toEqual([
      ["optimizer.group0.exp_avg", "f16", [10]],
      ["optimizer.group0.exp_avg_sq", "f16", [10]],
      ["optimizer.group2.exp_avg", "f32", [6]],
      ["optimizer.group2.exp_avg_sq", "f32", [6]],
    ])
  })
})

describe("AdamW's states saved per parameter (before the moments were packed)", () => {
  const params = [
    { name: "a", shape: [3], init: draw(3, 1) },
    { name: "b", shape: [2, 2], init: draw(4, 2) },
    { name: "c", shape: [2], init: draw(2, 3), group: 1 },
  ]
  const groups = [params.slice(0, 2), params.slice(2)].map((g) =>
    g.map((p) => ({ name: p.name, shape: p.shape, dtype: "f32" as const })),
  )
  const f32 = (shape: ReadonlyArray<number>, values: ArrayLike<number>) =>
    hostTensor("f32", shape, Float32Array.from(values))
  const saved: Record<string, HostTensor> = {}
  for (const [i, p] of params.entries()) {
    saved[paramStateName(p.name, "exp_avg")] = f32(p.shape, draw(p.init.length, 10 + i, 0.1))
    saved[paramStateName(p.name, "exp_avg_sq")] = f32(
      p.shape,
      draw(p.init.length, 20 + i).map((x) => x * x * 1e-3),
    )
  }

  it("are packed by group, and the next step is torch's per-tensor AdamW from the saved moments", () => {
    const optimizer = adamWOptimizer()
    const converted = optimizer.convertSavedState!({ ...saved, other: f32([1], [7]) }, groups)
    expect(Object.keys(converted).sort()).toEqual([
      "optimizer.group0.exp_avg",
      "optimizer.group0.exp_avg_sq",
      "optimizer.group1.exp_avg",
      "optimizer.group1.exp_avg_sq",
      "other",
    ])
    const lr = 0.01
    const grads = Object.fromEntries(params.map((p, i) => [p.name, draw(p.init.length, 30 + i)]))
    // runOptimizer starts from initialState; feed it the converted moments instead.
    const resumed = { ...optimizer, initialState: () => converted }
    const after = runOptimizer(
      resumed,
      params,
      1,
      () => grads,
      () => [lr, lr],
    )[0]!
    for (const [group, members] of [params.slice(0, 2), params.slice(2)].entries()) {
      const want = { p: [] as Array<number>, m: [] as Array<number>, v: [] as Array<number> }
      for (const p of members) {
        const m = saved[paramStateName(p.name, "exp_avg")]!.data
        const v = saved[paramStateName(p.name, "exp_avg_sq")]!.data
        p.init.forEach((value, i) => {
          const next = torchAdamW(value, grads[p.name]![i]!, m[i]!, v[i]!, lr, 1)
          want.p.push(next.p)
          want.m.push(next.m)
          want.v.push(next.v)
        })
      }
      expectClose(
        members.flatMap((p) => [...after[p.name]!]),
        want.p,
      )
      expectClose(after[momentNames(group).m]!, want.m)
      expectClose(after[momentNames(group).v]!, want.v)
    }
  })

  it("pack half moments in half and keep a packed state already saved", () => {
    const half = Object.fromEntries(
      Object.entries(saved).map(([name, host]) => [name, castHostFloat(host, "f16")]),
    )
    const packed = f32([2], [5, 6])
    const converted = adamWOptimizer().convertSavedState!(
      { ...half, "optimizer.group1.exp_avg": packed },
      groups,
    )
    const m0 = converted["optimizer.group0.exp_avg"]!
    expect([m0.dtype, m0.shape]).toEqual(["f16", [7]])
    expect(Array.from(refFromHost(m0))).toEqual(
      [...saved["optimizer.a.exp_avg"]!.data, ...saved["optimizer.b.exp_avg"]!.data].map(roundToF16),
    )
    expect(converted["optimizer.group1.exp_avg"]).toBe(packed)
    expect(converted["optimizer.c.exp_avg"]).toBe(half["optimizer.c.exp_avg"])
  })

  it("refuse a group with some of its parameters' moments missing", () => {
    const { "optimizer.b.exp_avg_sq": _, ...partial } = saved
    expect(() => adamWOptimizer().convertSavedState!(partial, groups)).toThrow(
      "the saved state has AdamW's exp_avg_sq for 1 of the 2 parameters of group 0",
    )
  })
})
