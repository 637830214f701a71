import { describe, expect, it } from "vitest"
import { makeOptimizer } from "../../src/optim/makeOptimizer.js"
import { draw, expectClose, runOptimizer, type TestParam } from "./runOptimizer.js"

interface Config {
  beta1: number
  beta2: number
  eps: number
  weightDecay: number
  decouple: boolean
  useBiasCorrection: boolean
  growthRate: number
}

const defaults: Config = {
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  decouple: false,
  useBiasCorrection: false,
  growthRate: Number.POSITIVE_INFINITY,
}

type Trace = Array<{ params: Record<string, Float64Array>; d: number; k: number }>

/** dadaptation 3.2's DAdaptAdam.step (and, with `preprint`, DAdaptAdamPreprint.step) transcribed into f64. */
const reference = (
  preprint: boolean,
  c: Config,
  params: ReadonlyArray<TestParam>,
  grads: ReadonlyArray<Record<string, Float64Array>>,
  lrs: ReadonlyArray<ReadonlyArray<number>>,
): Trace => {
  const sb2 = Math.sqrt(c.beta2)
  let [d, weighted, gsqWeighted, k] = [1e-6, 0, 0, 0]
  const p = Object.fromEntries(params.map((x) => [x.name, Float64Array.from(x.init)]))
  const st = Object.fromEntries(
    params.map((x) => [
      x.name,
      {
        s: new Float64Array(x.init.length),
        m: new Float64Array(x.init.length),
        v: new Float64Array(x.init.length),
      },
    ]),
  )
  const trace: Trace = []
  const snapshot = () => Object.fromEntries(Object.entries(p).map(([n, x]) => [n, Float64Array.from(x)]))
  for (let t = 0; t < grads.length; t++) {
    const lr = Math.max(...lrs[t]!)
    const bc =
      c.useBiasCorrection && !preprint ? Math.sqrt(1 - c.beta2 ** (k + 1)) / (1 - c.beta1 ** (k + 1)) : 1
    const dlr = d * lr * bc
    let [numerator, skL1, gSq, sksq] = [0, 0, 0, 0]
    for (const param of params) {
      if (lrs[t]![param.group ?? 0]! <= 0) continue
      const x = p[param.name]!
      const g = grads[t]![param.name]!.map((gi, i) =>
        c.weightDecay !== 0 && !c.decouple ? gi + c.weightDecay * x[i]! : gi,
      )
      const { s, m, v } = st[param.name]!
      for (let i = 0; i < x.length; i++) {
        if (preprint) {
          m[i] = m[i]! * c.beta1 + g[i]! * (dlr * (1 - c.beta1))
          v[i] = v[i]! * c.beta2 + g[i]! * g[i]! * (1 - c.beta2)
          const denom = Math.sqrt(v[i]!) + c.eps
          gSq += (g[i]! * g[i]!) / denom
          s[i] = s[i]! * c.beta2 + g[i]! * (dlr * (1 - c.beta2))
          sksq += (s[i]! * s[i]!) / denom
        } else {
          numerator += dlr * (g[i]! * (s[i]! / (Math.sqrt(v[i]!) + c.eps)))
          m[i] = m[i]! * c.beta1 + g[i]! * (dlr * (1 - c.beta1))
          v[i] = v[i]! * c.beta2 + g[i]! * g[i]! * (1 - c.beta2)
          s[i] = s[i]! * sb2 + g[i]! * (dlr * (1 - sb2))
        }
        skL1 += Math.abs(s[i]!)
      }
    }
    const gsqNext = c.beta2 * gsqWeighted + gSq * dlr ** 2 * (1 - c.beta2)
    if (skL1 === 0) {
      trace.push({ params: snapshot(), d, k })
      continue
    }
    const weightedNext = sb2 * weighted + (1 - sb2) * numerator
    const dHat = preprint ? (sksq / (1 - c.beta2) - gsqNext) / skL1 : weightedNext / ((1 - sb2) * skL1)
    d = Math.max(d, Math.min(dHat, d * c.growthRate))
    weighted = weightedNext
    gsqWeighted = gsqNext
    for (const param of params) {
      const x = p[param.name]!
      const { m, v } = st[param.name]!
      const decays = c.weightDecay !== 0 && c.decouple && (!preprint || lrs[t]![param.group ?? 0]! > 0)
      for (let i = 0; i < x.length; i++) {
        if (decays) x[i] = x[i]! - c.weightDecay * dlr * x[i]!
        x[i] = x[i]! - m[i]! / (Math.sqrt(v[i]!) + c.eps)
      }
    }
    k += 1
    trace.push({ params: snapshot(), d, k })
  }
  return trace
}

const check = (
  type: string,
  preprint: boolean,
  overrides: Partial<Config>,
  args: ReadonlyArray<string>,
  lrs: (t: number) => ReadonlyArray<number>,
) => {
  const params: Array<TestParam> = [
    { name: "down", shape: [3, 4], init: draw(12, 13, 0.5) },
    { name: "up", shape: [4, 3], init: new Float64Array(12) },
    { name: "te", shape: [5], init: draw(5, 14), group: 1 },
  ]
  const steps = 6
  const grads = Array.from({ length: steps }, (_, t) =>
    Object.fromEntries(
      params.map((p, i) => {
        const n = p.init.length
        if (t === 0) return [p.name, new Float64Array(n)]
        const steady = draw(n, 60 + i, 0.1)
        const noise = draw(n, 200 * t + i, 0.02)
        return [p.name, steady.map((x, j) => x + noise[j]!)]
      }),
    ),
  )
  const history = runOptimizer(makeOptimizer(type, args), params, steps, (t) => grads[t - 1]!, lrs)
  const expected = reference(
    preprint,
    { ...defaults, ...overrides },
    params,
    grads,
    Array.from({ length: steps }, (_, t) => lrs(t + 1)),
  )
  for (let t = 0; t < steps; t++) {
    for (const p of params) expectClose(history[t]![p.name]!, expected[t]!.params[p.name]!, 1e-10)
    expectClose(history[t]!["optimizer.group0.d"]!, [expected[t]!.d], 1e-10)
    expectClose(history[t]!["optimizer.group0.k"]!, [expected[t]!.k])
  }
  // An all-zero first gradient skips the step, unless coupled weight decay makes it non-zero.
  expect(expected[0]!.k).toBe(overrides.weightDecay && !overrides.decouple ? 1 : 0)
  expect(expected[steps - 1]!.d).toBeGreaterThan(1e-6)
}

describe("DAdaptAdam", () => {
  it("matches dadaptation 3.2 with its defaults, skipping an all-zero first step", () => {
    check("DAdaptAdam", false, {}, [], () => [1, 1])
  })

  it("matches with bias correction, decoupled weight decay, growth rate and a group at lr 0", () => {
    check(
      "DAdaptAdam",
      false,
      { useBiasCorrection: true, weightDecay: 0.1, decouple: true, growthRate: 2, beta1: 0.8, beta2: 0.99 },
      ["use_bias_correction=True", "weight_decay=0.1", "decouple=True", "growth_rate=2", "betas=(0.8,0.99)"],
      (t) => [0.5, t % 3 === 0 ? 0 : 0.5],
    )
  })
})

describe("DAdaptAdamPreprint (kohya's DAdaptation)", () => {
  it("matches dadaptation 3.2's preprint variant", () => {
    check("DAdaptation", true, {}, [], () => [1, 1])
  })

  it("matches with coupled weight decay, then decoupled decay skipping a group at lr 0", () => {
    check("DAdaptAdamPreprint", true, { weightDecay: 0.05 }, ["weight_decay=0.05"], () => [1, 1])
    check(
      "DAdaptAdamPreprint",
      true,
      { weightDecay: 0.05, decouple: true },
      ["weight_decay=0.05", "decouple=True"],
      (t) => [1, t % 2 === 0 ? 0 : 1],
    )
  })
})
