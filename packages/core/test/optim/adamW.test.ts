import { describe, expect, it } from "vitest"
import { topologicalOrder } from "../../src/graph/topologicalOrder.js"
import { input, state } from "../../src/ops/sources.js"
import { adamW, adamWOptimizer, momentNames, momentPacks } from "../../src/optim/adamW.js"
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
  it.each([
    ["one vector", undefined, [7]],
    ["a vector each (packElements 4)", 4, [3, 4]],
  ] as const)(
    "matches torch's AdamW arithmetic over several steps, the group's moments packed in %s",
    (_, packElements, packSizes) => {
      const [w, u] = [state("w", [3]), state("u", [2, 2])]
      const [gw, gu] = [input("gw", [3]), input("gu", [2, 2])]
      const updates = adamW(
        [
          { param: w, grad: gw },
          { param: u, grad: gu },
        ],
        { lr: input("lr", []), step: input("step", []) },
        packElements === undefined ? {} : { packElements },
        1,
      )
      const packs = packSizes.map((_, pack) => momentNames(1, pack))
      const moments = packs.flatMap(({ m, v }) => [m, v])
      expect(Object.keys(updates).sort()).toEqual([...moments, "u", "w"].sort())
      expect(packs.map(({ m }) => updates[m]!.shape[0])).toEqual(packSizes)
      const step = compileExact([updates.w!, updates.u!, ...moments.map((name) => updates[name]!)])
      let params: Array<RefArray> = [Float64Array.from([0.5, -1, 2]), Float64Array.from([0.25, 3, -0.75, 1])]
      let states: Array<RefArray> = packSizes.flatMap((n) => [new Float64Array(n), new Float64Array(n)])
      // Torch's per-tensor state: w's elements then u's, so its moments are the packed vectors' slices.
      const expected = {
        p: [0.5, -1, 2, 0.25, 3, -0.75, 1],
        m: new Array(7).fill(0),
        v: new Array(7).fill(0),
      }
      for (let t = 1; t <= 4; t++) {
        const g = [0.1 * t, -0.3, 0.05 / t, 0.2, -0.1 * t, 0.4 / t, 0.01]
        const out = step({
          w: params[0]!,
          u: params[1]!,
          gw: Float64Array.from(g.slice(0, 3)),
          gu: Float64Array.from(g.slice(3)),
          lr: Float64Array.of(0.01),
          step: Float64Array.of(t),
          ...Object.fromEntries(moments.map((name, i) => [name, states[i]!])),
        })
        params = out.slice(0, 2)
        states = out.slice(2)
        for (let i = 0; i < 7; i++) {
          const next = torchAdamW(expected.p[i]!, g[i]!, expected.m[i]!, expected.v[i]!, 0.01, t)
          expected.p[i] = next.p
          expected.m[i] = next.m
          expected.v[i] = next.v
        }
        expectClose([...params[0]!, ...params[1]!], expected.p)
        expectClose(
          states.filter((_, i) => i % 2 === 0).flatMap((m) => [...m]),
          expected.m,
        )
        expectClose(
          states.filter((_, i) => i % 2 === 1).flatMap((v) => [...v]),
          expected.v,
        )
      }
    },
  )

  it("joins and cuts a large group through concats and slices of at most 16 parts, with torch's numbers", () => {
    const sizes = Array.from({ length: 300 }, (_, i) => 1 + (i % 4))
    const trainables = sizes.map((size, i) => ({
      param: state(`p${i}`, [size]),
      grad: input(`g${i}`, [size]),
    }))
    const updates = adamW(trainables, { lr: input("lr", []), step: input("step", []) })
    const nodes = topologicalOrder(Object.values(updates))
    const readers = new Map<number, number>()
    for (const node of nodes) {
      if (node.op === "concat") expect(node.inputs.length).toBeLessThanOrEqual(16)
      if (node.op === "slice") readers.set(node.inputs[0]!.id, (readers.get(node.inputs[0]!.id) ?? 0) + 1)
    }
    expect(Math.max(...readers.values())).toBeLessThanOrEqual(16)
    const names = sizes.map((_, i) => `p${i}`)
    const step = compileExact(names.map((name) => updates[name]!))
    const value = (i: number, j: number) => Math.sin(i * 7 + j)
    const gradient = (i: number, j: number) => Math.cos(i * 3 - j) / 10
    const moments = momentNames(0)
    const out = step({
      ...Object.fromEntries(
        sizes.map((size, i) => [`p${i}`, Float64Array.from({ length: size }, (_, j) => value(i, j))]),
      ),
      ...Object.fromEntries(
        sizes.map((size, i) => [`g${i}`, Float64Array.from({ length: size }, (_, j) => gradient(i, j))]),
      ),
      [moments.m]: new Float64Array(750),
      [moments.v]: new Float64Array(750),
      lr: Float64Array.of(0.01),
      step: Float64Array.of(1),
    })
    sizes.forEach((size, i) => {
      const expected = Array.from(
        { length: size },
        (_, j) => torchAdamW(value(i, j), gradient(i, j), 0, 0, 0.01, 1).p,
      )
      expectClose([...out[i]!], expected)
    })
  })

  it("packs parameters in order up to the element bound, a larger one alone", () => {
    expect(momentPacks([3, 4, 2, 9, 1, 1], 8)).toEqual([
      { from: 0, to: 2 },
      { from: 2, to: 3 },
      { from: 3, to: 4 },
      { from: 4, to: 6 },
    ])
    expect(momentPacks([], 8)).toEqual([])
    expect(momentPacks([2 ** 23, 2 ** 23, 1])).toEqual([
      { from: 0, to: 2 },
      { from: 2, to: 3 },
    ])
  })

  /** Each state's name, dtype and shape, sorted by name. */
  const layout = (states: Record<string, HostTensor>) =>
    Object.entries(states)
      .map(([name, t]) => [name, t.dtype, t.shape])
      .sort()

  it("lays out one moment pair per pack of each group, in the dtype its parameters share, else f32", () => {
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
    expect(layout(state)).toEqual([
      ["optimizer.group0.exp_avg", "f16", [10]],
      ["optimizer.group0.exp_avg_sq", "f16", [10]],
      ["optimizer.group2.exp_avg", "f32", [6]],
      ["optimizer.group2.exp_avg_sq", "f32", [6]],
    ])
    const bounded = adamWOptimizer({ packElements: 6 }).initialState([
      [
        { name: "a", shape: [2, 3], dtype: "f16" },
        { name: "b", shape: [4], dtype: "f32" },
      ],
    ])
    expect(layout(bounded)).toEqual([
      ["optimizer.group0.exp_avg", "f16", [6]],
      ["optimizer.group0.exp_avg.1", "f32", [4]],
      ["optimizer.group0.exp_avg_sq", "f16", [6]],
      ["optimizer.group0.exp_avg_sq.1", "f32", [4]],
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
    expect(converted["optimizer.c.exp_avg"]).toBeUndefined()
  })

  it("pack by the optimizer's element bound, as its update reads them", () => {
    const converted = adamWOptimizer({ packElements: 4 }).convertSavedState!(saved, groups)
    expect(
      Object.entries(converted)
        .map(([name, t]) => [name, Array.from(t.data)])
        .sort(),
    ).toEqual(
      [
        ["optimizer.group0.exp_avg", "optimizer.a.exp_avg"],
        ["optimizer.group0.exp_avg.1", "optimizer.b.exp_avg"],
        ["optimizer.group1.exp_avg", "optimizer.c.exp_avg"],
        ["optimizer.group0.exp_avg_sq", "optimizer.a.exp_avg_sq"],
        ["optimizer.group0.exp_avg_sq.1", "optimizer.b.exp_avg_sq"],
        ["optimizer.group1.exp_avg_sq", "optimizer.c.exp_avg_sq"],
      ]
        .map(([packed, old]) => [packed, Array.from(saved[old!]!.data)])
        .sort(),
    )
  })

  it("refuse a group with some of its parameters' moments missing", () => {
    const { "optimizer.b.exp_avg_sq": _, ...partial } = saved
    expect(() => adamWOptimizer().convertSavedState!(partial, groups)).toThrow(
      "the saved state has AdamW's exp_avg_sq for 1 of the 2 parameters of group 0",
    )
  })
})
