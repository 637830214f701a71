import { describe, expect, it } from "vitest"
import { makeOptimizer } from "../../src/optim/makeOptimizer.js"
import { draw, expectClose, runOptimizer, type TestParam } from "./runOptimizer.js"

interface Config {
  beta1: number
  beta2: number
  beta3: number | null
  eps: number
  weightDecay: number
  decouple: boolean
  useBiasCorrection: boolean
  safeguardWarmup: boolean
  d0: number
  dCoef: number
  growthRate: number
  sliceP: number
}

const defaults: Config = {
  beta1: 0.9,
  beta2: 0.999,
  beta3: null,
  eps: 1e-8,
  weightDecay: 0,
  decouple: true,
  useBiasCorrection: false,
  safeguardWarmup: false,
  d0: 1e-6,
  dCoef: 1,
  growthRate: Number.POSITIVE_INFINITY,
  sliceP: 1,
}

const strided = (x: Float64Array, sliceP: number) => x.filter((_, i) => i % sliceP === 0)

/** prodigyopt 1.1.2's `Prodigy.step`, transcribed loop for loop into f64 JavaScript. */
const referenceProdigy = (
  config: Config,
  params: ReadonlyArray<TestParam>,
  grads: ReadonlyArray<Record<string, Float64Array>>,
  lrs: ReadonlyArray<ReadonlyArray<number>>,
) => {
  const c = config
  const beta3 = c.beta3 ?? Math.sqrt(c.beta2)
  const group = { d: c.d0, dMax: c.d0, dNumerator: 0, k: 0 }
  const p = Object.fromEntries(params.map((x) => [x.name, Float64Array.from(x.init)]))
  const st: Record<string, { s: Float64Array; p0: Float64Array; m: Float64Array; v: Float64Array }> = {}
  const trace: Array<{ params: Record<string, Float64Array>; d: number; k: number }> = []
  for (let t = 0; t < grads.length; t++) {
    const lr = Math.max(...lrs[t]!)
    const { k } = group
    let d = group.d
    let dMax = group.dMax
    const bc = c.useBiasCorrection ? Math.sqrt(1 - c.beta2 ** (k + 1)) / (1 - c.beta1 ** (k + 1)) : 1
    const dlr = d * lr * bc
    const dNumerator = group.dNumerator * beta3
    let deltaNumerator = 0
    let dDenom = 0
    const g: Record<string, Float64Array> = {}
    for (const param of params) {
      const groupLr = lrs[t]![param.group ?? 0]!
      const x = p[param.name]!
      g[param.name] = Float64Array.from(grads[t]![param.name]!)
      const grad = g[param.name]!
      if (c.weightDecay !== 0 && !c.decouple)
        for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! + c.weightDecay * x[i]!
      if (st[param.name] === undefined) {
        st[param.name] = {
          s: new Float64Array(strided(x, c.sliceP).length),
          p0: strided(x, c.sliceP),
          m: new Float64Array(x.length),
          v: new Float64Array(x.length),
        }
      }
      const { s, p0, m, v } = st[param.name]!
      if (groupLr > 0) {
        const gs = strided(grad, c.sliceP)
        const xs = strided(x, c.sliceP)
        let dot = 0
        for (let i = 0; i < gs.length; i++) dot += gs[i]! * (p0[i]! - xs[i]!)
        deltaNumerator += (d / c.d0) * dlr * dot
        for (let i = 0; i < x.length; i++) {
          m[i] = m[i]! * c.beta1 + grad[i]! * (d * (1 - c.beta1))
          v[i] = v[i]! * c.beta2 + grad[i]! * grad[i]! * (d * d * (1 - c.beta2))
        }
        const alpha = c.safeguardWarmup ? (d / c.d0) * d : (d / c.d0) * dlr
        for (let i = 0; i < s.length; i++) s[i] = s[i]! * beta3 + gs[i]! * alpha
        dDenom += s.reduce((a, b) => a + Math.abs(b), 0)
      }
    }
    if (dDenom === 0) {
      trace.push({
        params: Object.fromEntries(Object.entries(p).map(([n, x]) => [n, Float64Array.from(x)])),
        d,
        k,
      })
      continue
    }
    const numerator = dNumerator + deltaNumerator
    const dHat = (c.dCoef * numerator) / dDenom
    if (d === c.d0) d = Math.max(d, dHat)
    dMax = Math.max(dMax, dHat)
    d = Math.min(dMax, d * c.growthRate)
    Object.assign(group, { d, dMax, dNumerator: numerator, k: k + 1 })
    for (const param of params) {
      const x = p[param.name]!
      const { m, v } = st[param.name]!
      for (let i = 0; i < x.length; i++) {
        const denom = Math.sqrt(v[i]!) + d * c.eps
        if (c.weightDecay !== 0 && c.decouple) x[i] = x[i]! - c.weightDecay * dlr * x[i]!
        x[i] = x[i]! - dlr * (m[i]! / denom)
      }
    }
    trace.push({
      params: Object.fromEntries(Object.entries(p).map(([n, x]) => [n, Float64Array.from(x)])),
      d,
      k: k + 1,
    })
  }
  return trace
}

/** The overrides as kohya's optimizer_args strings. */
const args = (config: Partial<Config>): Array<string> => [
  ...Object.entries(config)
    .filter(([key]) => key !== "beta1" && key !== "beta2")
    .map(([key, value]) => {
      const snake = key.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)
      const text =
        typeof value === "boolean" ? (value ? "True" : "False") : value === null ? "None" : String(value)
      return `${snake}=${text}`
    }),
  ...(config.beta1 === undefined ? [] : [`betas=(${config.beta1},${config.beta2})`]),
]

const check = (
  overrides: Partial<Config>,
  lrs: (t: number) => ReadonlyArray<number>,
  zeroFirstStep = false,
) => {
  const config = { ...defaults, ...overrides }
  const params: Array<TestParam> = [
    { name: "down", shape: [3, 4], init: draw(12, 3, 0.5) },
    { name: "up", shape: [4, 3], init: new Float64Array(12) },
    { name: "te", shape: [5], init: draw(5, 4), group: 1 },
  ]
  const steps = 6
  const grads = Array.from({ length: steps }, (_, t) =>
    Object.fromEntries(
      // A steady direction plus noise, as a loss's gradient is, so that d grows.
      params.map((p, i) => {
        const n = p.init.length
        const steady = draw(n, 50 + i, 0.1)
        const noise = draw(n, 100 * t + i, 0.02)
        return [p.name, zeroFirstStep && t === 0 ? new Float64Array(n) : steady.map((x, j) => x + noise[j]!)]
      }),
    ),
  )
  const lrList = Array.from({ length: steps }, (_, t) => lrs(t + 1))
  const history = runOptimizer(
    makeOptimizer("Prodigy", args(overrides)),
    params,
    steps,
    (t) => grads[t - 1]!,
    lrs,
  )
  const expected = referenceProdigy(config, params, grads, lrList)
  for (let t = 0; t < steps; t++) {
    for (const p of params) expectClose(history[t]![p.name]!, expected[t]!.params[p.name]!, 1e-10)
    expectClose(history[t]!["optimizer.group0.d"]!, [expected[t]!.d], 1e-10)
    expectClose(history[t]!["optimizer.group0.k"]!, [expected[t]!.k])
  }
  return expected
}

describe("Prodigy", () => {
  it("matches prodigyopt 1.1.2 with its defaults, d estimated over both groups in the graph", () => {
    const trace = check({}, () => [1, 1])
    expect(trace[5]!.d).toBeGreaterThan(1e-5)
  })

  it("matches with bias correction, decoupled weight decay, growth rate and d_coef", () => {
    check(
      { useBiasCorrection: true, weightDecay: 0.1, growthRate: 1.5, dCoef: 2, beta1: 0.8, beta2: 0.99 },
      (t) => [0.5 + 0.1 * t, 0.5 + 0.1 * t],
    )
  })

  it("matches with coupled weight decay, safeguard warmup, beta3 and slice_p", () => {
    check({ weightDecay: 0.05, decouple: false, safeguardWarmup: true, beta3: 0.9, sliceP: 2 }, () => [1, 1])
  })

  it("skips a step whose gradients are all zero and ignores a group at lr 0", () => {
    const trace = check({}, (t) => [1, t % 2 === 0 ? 0 : 1], true)
    expect(trace[0]!.k).toBe(0)
  })
})
