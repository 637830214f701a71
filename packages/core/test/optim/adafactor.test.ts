import { describe, it } from "vitest"
import { makeOptimizer } from "../../src/optim/makeOptimizer.js"
import { draw, expectClose, runOptimizer, type TestParam } from "./runOptimizer.js"

interface Config {
  eps1: number
  eps2: number
  clipThreshold: number
  decayRate: number
  beta1: number | null
  weightDecay: number
  scaleParameter: boolean
  relativeStep: boolean
  warmupInit: boolean
}

const rms = (x: ArrayLike<number>) => {
  let s = 0
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!
  return Math.sqrt(s) / Math.sqrt(x.length)
}

/**
 * transformers' `Adafactor.step` for one parameter, in f64: `shape` is [..., R, C] (factored over the last two
 * dims) or rank 1. Returns the parameter after each step.
 */
const referenceAdafactor = (
  c: Config,
  shape: ReadonlyArray<number>,
  init: Float64Array,
  grads: ReadonlyArray<Float64Array>,
  lrs: ReadonlyArray<number>,
) => {
  const p = Float64Array.from(init)
  const factored = shape.length >= 2
  const cols = shape[shape.length - 1]!
  const rows = factored ? shape[shape.length - 2]! : 1
  const batches = p.length / (rows * cols)
  const rowState = new Float64Array(batches * rows)
  const colState = new Float64Array(batches * cols)
  const full = new Float64Array(p.length)
  const m = new Float64Array(p.length)
  const trace: Array<Float64Array> = []
  grads.forEach((g, index) => {
    const t = index + 1
    const rel = c.relativeStep ? Math.min(c.warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t)) : lrs[index]!
    const lr = (c.scaleParameter ? Math.max(c.eps2, rms(p)) : 1) * rel
    const beta2t = 1 - t ** c.decayRate
    const u = g.map((x) => x * x + c.eps1)
    let update: Float64Array
    if (factored) {
      update = new Float64Array(p.length)
      for (let b = 0; b < batches; b++) {
        for (let r = 0; r < rows; r++) {
          let mean = 0
          for (let k = 0; k < cols; k++) mean += u[(b * rows + r) * cols + k]!
          rowState[b * rows + r] = rowState[b * rows + r]! * beta2t + (mean / cols) * (1 - beta2t)
        }
        for (let k = 0; k < cols; k++) {
          let mean = 0
          for (let r = 0; r < rows; r++) mean += u[(b * rows + r) * cols + k]!
          colState[b * cols + k] = colState[b * cols + k]! * beta2t + (mean / rows) * (1 - beta2t)
        }
        let rowMean = 0
        for (let r = 0; r < rows; r++) rowMean += rowState[b * rows + r]!
        rowMean /= rows
        for (let r = 0; r < rows; r++)
          for (let k = 0; k < cols; k++) {
            const i = (b * rows + r) * cols + k
            update[i] =
              (1 / Math.sqrt(rowState[b * rows + r]! / rowMean)) *
              (1 / Math.sqrt(colState[b * cols + k]!)) *
              g[i]!
          }
      }
    } else {
      for (let i = 0; i < p.length; i++) full[i] = full[i]! * beta2t + u[i]! * (1 - beta2t)
      update = full.map((v, i) => (1 / Math.sqrt(v)) * g[i]!)
    }
    const clip = Math.max(rms(update) / c.clipThreshold, 1)
    update = update.map((x) => (x / clip) * lr)
    if (c.beta1 !== null) {
      for (let i = 0; i < p.length; i++) m[i] = m[i]! * c.beta1 + update[i]! * (1 - c.beta1)
      update = Float64Array.from(m)
    }
    for (let i = 0; i < p.length; i++) {
      if (c.weightDecay !== 0) p[i] = p[i]! - c.weightDecay * lr * p[i]!
      p[i] = p[i]! - update[i]!
    }
    trace.push(Float64Array.from(p))
  })
  return trace
}

const defaults: Config = {
  eps1: 1e-30,
  eps2: 1e-3,
  clipThreshold: 1,
  decayRate: -0.8,
  beta1: null,
  weightDecay: 0,
  scaleParameter: true,
  relativeStep: true,
  warmupInit: false,
}

const check = (config: Config, args: ReadonlyArray<string>) => {
  const params: Array<TestParam> = [
    { name: "down", shape: [3, 4], init: draw(12, 5, 0.5) },
    { name: "up", shape: [4, 3], init: new Float64Array(12) },
    { name: "conv", shape: [2, 3, 2, 2], init: draw(24, 6, 0.2) },
    { name: "bias", shape: [5], init: draw(5, 7) },
  ]
  const steps = 5
  const grads = Array.from({ length: steps }, (_, t) =>
    Object.fromEntries(params.map((p, i) => [p.name, draw(p.init.length, 300 + 10 * t + i, 0.3)])),
  )
  const lrs = Array.from({ length: steps }, (_, t) => 0.01 / (t + 1))
  const history = runOptimizer(
    makeOptimizer("Adafactor", args),
    params,
    steps,
    (t) => grads[t - 1]!,
    (t) => [lrs[t - 1]!],
  )
  for (const p of params) {
    const expected = referenceAdafactor(
      config,
      p.shape,
      p.init,
      grads.map((g) => g[p.name]!),
      lrs,
    )
    for (let t = 0; t < steps; t++) expectClose(history[t]![p.name]!, expected[t]!, 1e-11)
  }
}

describe("Adafactor", () => {
  it("matches transformers' Adafactor with kohya's relative_step default", () => {
    check(defaults, [])
  })

  it("matches with warmup_init (which turns relative_step on)", () => {
    check({ ...defaults, warmupInit: true }, ["relative_step=False", "warmup_init=True"])
  })

  it("matches with the lr input, first moment, weight decay and clipping", () => {
    check(
      {
        ...defaults,
        relativeStep: false,
        beta1: 0.9,
        weightDecay: 0.01,
        clipThreshold: 0.5,
        scaleParameter: false,
      },
      [
        "relative_step=False",
        "beta1=0.9",
        "weight_decay=0.01",
        "clip_threshold=0.5",
        "scale_parameter=False",
      ],
    )
  })
})
