import { describe, expect, it } from "vitest"
import { dynamicMap } from "../../src/optim/dynamicMap.js"
import { makeOptimizer } from "../../src/optim/makeOptimizer.js"
import { draw, expectClose, runOptimizer, type TestParam } from "./runOptimizer.js"

const f32 = Math.fround

/** bitsandbytes' `quantize_2D`: a 7-step pivot walk over the sorted map, then the nearer neighbour by midpoint. */
const quantize2D = (code: Float32Array, x: number, signed: boolean): number => {
  let [pivot, upperPivot, lowerPivot] = [127, 255, 0]
  let [lower, upper] = [signed ? -1 : 0, 1]
  let value = code[127]!
  for (let i = 64; i > 0; i >>= 1) {
    if (x > value) {
      lowerPivot = pivot
      lower = value
      pivot += i
    } else {
      upperPivot = pivot
      upper = value
      pivot -= i
    }
    value = code[pivot]!
  }
  if (x > value) return x > f32((upper + value) * 0.5) ? upperPivot : pivot
  return x < f32((lower + value) * 0.5) ? lowerPivot : pivot
}

/** kOptimizerStatic8bit2StateBlockwise (and kOptimizer32bit2State under min_8bit_size) for one parameter, in f64. */
const referenceAdamW8bit = (
  init: Float64Array,
  grads: ReadonlyArray<Float64Array>,
  lr: number,
  {
    beta1,
    beta2,
    eps,
    wd,
    quantized,
  }: { beta1: number; beta2: number; eps: number; wd: number; quantized: boolean },
) => {
  const [map1, map2] = [dynamicMap(true), dynamicMap(false)]
  const n = init.length
  const blocks = Math.ceil(n / 256)
  const p = Float64Array.from(init)
  const c1 = new Uint8Array(blocks * 256)
  const c2 = new Uint8Array(blocks * 256)
  // Missing elements of a partial last block load as codes 128 and 0.
  c1.fill(128, n)
  const absmax1 = new Float64Array(blocks)
  const absmax2 = new Float64Array(blocks)
  const m32 = new Float64Array(n)
  const v32 = new Float64Array(n)
  const trace: Array<{
    p: Float64Array
    c1: Uint8Array
    c2: Uint8Array
    absmax1: Float64Array
    m: Float64Array
  }> = []
  grads.forEach((grad, index) => {
    const t = index + 1
    const correction1 = 1 - beta1 ** t
    const correction2 = Math.sqrt(1 - beta2 ** t)
    const stepSize = (lr * correction2) / correction1
    const step = (i: number, m: number, v: number) => {
      p[i] = p[i]! - stepSize * (m / (Math.sqrt(v) + correction2 * eps))
      if (wd > 0) p[i] = p[i]! * (1 - lr * wd)
    }
    if (!quantized) {
      for (let i = 0; i < n; i++) {
        m32[i] = m32[i]! * beta1 + grad[i]! * (1 - beta1)
        v32[i] = v32[i]! * beta2 + grad[i]! * (1 - beta2) * grad[i]!
        step(i, m32[i]!, v32[i]!)
      }
      trace.push({ p: Float64Array.from(p), c1, c2, absmax1, m: Float64Array.from(m32) })
      return
    }
    const mAll = new Float64Array(n)
    for (let b = 0; b < blocks; b++) {
      const s1 = new Float64Array(256)
      const s2 = new Float64Array(256)
      let [max1, max2] = [0, 0]
      for (let j = 0; j < 256; j++) {
        const i = b * 256 + j
        const g = i < n ? grad[i]! : 0
        if (Number.isFinite(g)) {
          s2[j] = map2[c2[i]!]! * absmax2[b]! * beta2 + g * (1 - beta2) * g
          s1[j] = map1[c1[i]!]! * absmax1[b]! * beta1 + g * (1 - beta1)
        }
        max1 = Math.max(max1, Math.abs(s1[j]!))
        max2 = Math.max(max2, Math.abs(s2[j]!))
      }
      absmax1[b] = max1
      absmax2[b] = max2
      for (let j = 0; j < 256; j++) {
        const i = b * 256 + j
        if (i < n && Number.isFinite(grad[i]!)) step(i, s1[j]!, s2[j]!)
        if (i < n) mAll[i] = s1[j]!
        let code1 = quantize2D(map1, s1[j]! / max1, true)
        if (Math.sign(map1[code1]!) < 0 !== (s1[j]! < 0 || Object.is(s1[j], -0)))
          code1 = (s1[j]! > 0 ? code1 + 1 : code1 - 1) & 255
        if (i < n) {
          c1[i] = code1
          c2[i] = quantize2D(map2, s2[j]! / max2, false)
        }
      }
    }
    trace.push({
      p: Float64Array.from(p),
      c1: c1.slice(0, n),
      c2: c2.slice(0, n),
      absmax1: Float64Array.from(absmax1),
      m: mAll,
    })
  })
  return trace
}

describe("dynamicMap", () => {
  it("has bitsandbytes' 256 sorted values and ranges", () => {
    const signed = dynamicMap(true)
    const unsigned = dynamicMap(false)
    for (const map of [signed, unsigned]) {
      expect(map.length).toBe(256)
      for (let i = 1; i < 256; i++) expect(map[i]!).toBeGreaterThan(map[i - 1]!)
      expect(map[255]).toBe(1)
    }
    expect(signed[0]).toBeCloseTo(-0.99297, 5)
    expect(signed[127]).toBe(0)
    expect(signed[128]).toBeCloseTo(5.5e-7, 12)
    expect(signed[254]).toBeCloseTo(0.99297, 5)
    expect(unsigned[0]).toBe(0)
    expect(unsigned[1]).toBeCloseTo(f32(0.325e-6), 12)
  })
})

describe("AdamW8bit", () => {
  it("matches bitsandbytes' block-wise 8-bit step, codes and absmaxes included, and its 32-bit step for small tensors", () => {
    const [beta1, beta2, eps, wd, lr] = [0.9, 0.99, 1e-8, 0.05, 0.01]
    const params: Array<TestParam> = [
      { name: "big", shape: [600], init: draw(600, 8, 0.5) },
      { name: "small", shape: [4, 5], init: draw(20, 9, 0.5) },
    ]
    const steps = 4
    const grads = Array.from({ length: steps }, (_, t) => {
      const big = draw(600, 400 + t, 0.2)
      // The second block sees only zeros (absmax 0), and one element a non-finite gradient at step 2.
      big.fill(0, 256, 512)
      if (t === 1) big[3] = Number.POSITIVE_INFINITY
      // Tiny negative moments round to the code of 0 unless the sign is kept.
      big[520] = -1e-9
      return { big, small: draw(20, 500 + t, 0.2) } as Record<string, Float64Array>
    })
    const optimizer = makeOptimizer("AdamW8bit", [
      `betas=(${beta1},${beta2})`,
      `weight_decay=${wd}`,
      "min_8bit_size=512",
    ])
    const history = runOptimizer(
      optimizer,
      params,
      steps,
      (t) => grads[t - 1]!,
      () => [lr],
    )
    for (const p of params) {
      const quantized = p.name === "big"
      const expected = referenceAdamW8bit(
        p.init,
        grads.map((g) => g[p.name]!),
        lr,
        { beta1, beta2, eps, wd, quantized },
      )
      for (let t = 0; t < steps; t++) {
        const state = history[t]!
        expectClose(state[p.name]!, expected[t]!.p, 1e-12)
        if (quantized) {
          expect(Array.from(state["optimizer.big.state1"]!)).toEqual(Array.from(expected[t]!.c1))
          expect(Array.from(state["optimizer.big.state2"]!)).toEqual(Array.from(expected[t]!.c2))
          expectClose(state["optimizer.big.absmax1"]!, expected[t]!.absmax1, 1e-14)
        } else expectClose(state["optimizer.small.state1"]!, expected[t]!.m, 1e-14)
      }
    }
    const last = history[steps - 1]!
    expect(last["optimizer.big.state1"]![300]).toBe(255)
    expect(last["optimizer.big.state1"]![520]).toBe(126)
  })

  it("keeps the dequantized first moment close to the float32 one", () => {
    const grads = Array.from({ length: 3 }, (_, t) => ({ w: draw(4096, 600 + t, 0.1) }))
    const history = runOptimizer(
      makeOptimizer("AdamW8bit"),
      [{ name: "w", shape: [64, 64], init: draw(4096, 10) }],
      3,
      (t) => grads[t - 1]!,
      () => [1e-3],
    )
    const map = dynamicMap(true)
    const codes = history[2]!["optimizer.w.state1"]!
    const absmax = history[2]!["optimizer.w.absmax1"]!
    const exact = new Float64Array(4096)
    for (const { w } of grads) for (let i = 0; i < 4096; i++) exact[i] = 0.9 * exact[i]! + 0.1 * w[i]!
    for (let i = 0; i < 4096; i++) {
      const block = absmax[Math.floor(i / 256)]!
      expect(Math.abs(map[codes[i]!]! * block - exact[i]!)).toBeLessThan(0.03 * block)
    }
  })
})
