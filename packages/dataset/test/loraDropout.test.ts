import { type LoraModule, NOISE_KEY, Reference, stepKey, T, type Tensor } from "@danlu/core"
import { describe, expect, it } from "vitest"
import { loraDropout } from "../src/train/loraDropout.js"

const linear = { module: { kind: "linear" } } as unknown as LoraModule
const conv = { module: { kind: "conv" } } as unknown as LoraModule

/**
 * Runs the dropouts of module `index` on an all-ones hidden state, laid out with `others` modules of
 * the same shape before it (as a model build would); returns the hidden values and the gain.
 */
const apply = (
  options: Parameters<typeof loraDropout>[0],
  shape: ReadonlyArray<number>,
  lora: LoraModule,
  index: number,
  microStep = 1,
) => {
  const dropout = loraDropout(options)!
  const recorder = dropout.record()
  for (let i = 0; i <= index; i++) recorder.hook(T.input("hidden", shape), lora, i)
  const out = dropout.hook(recorder.layout())(T.input("hidden", shape), lora, index)
  const gain: Tensor =
    typeof out.gain === "number" || out.gain === undefined ? T.full(out.gain ?? 1, []) : out.gain
  const [values, g] = Reference.evaluateExact([out.hidden, gain], {
    hidden: new Float64Array(shape.reduce((a, b) => a * b, 1)).fill(1),
    [NOISE_KEY]: stepKey(5, microStep),
  })
  return { values: [...values!], gain: g![0]! }
}

const share = (values: ReadonlyArray<number>, test: (v: number) => boolean) =>
  values.filter(test).length / values.length

describe("loraDropout (kohya's LoRAModule dropouts)", () => {
  it("is absent when no rate is set", () => {
    expect(loraDropout({})).toBeUndefined()
    expect(loraDropout({ network: 0, rank: 0, module: 0 })).toBeUndefined()
  })

  it("network_dropout zeroes elements at its rate and scales the rest by 1/(1−p)", () => {
    const { values, gain } = apply({ network: 0.25 }, [4, 16, 32], linear, 0)
    expect(new Set(values.map((v) => v.toFixed(6)))).toEqual(new Set(["0.000000", (4 / 3).toFixed(6)]))
    expect(share(values, (v) => v === 0)).toBeGreaterThan(0.2)
    expect(share(values, (v) => v === 0)).toBeLessThan(0.3)
    expect(gain).toBe(1)
  })

  it("rank_dropout zeroes whole ranks per sample (linear: last axis; conv: channel axis) and scales the delta", () => {
    const lin = apply({ rank: 0.5 }, [8, 5, 16], linear, 3)
    expect(lin.gain).toBe(2)
    for (let b = 0; b < 8; b++)
      for (let r = 0; r < 16; r++) {
        const column = [0, 1, 2, 3, 4].map((l) => lin.values[(b * 5 + l) * 16 + r]!)
        expect(new Set(column).size).toBe(1)
      }
    expect(share(lin.values, (v) => v === 0)).toBeGreaterThan(0.35)
    expect(share(lin.values, (v) => v === 0)).toBeLessThan(0.65)
    const cv = apply({ rank: 0.5 }, [4, 16, 3, 3], conv, 3)
    for (let b = 0; b < 4; b++)
      for (let r = 0; r < 16; r++) {
        const plane = cv.values.slice((b * 16 + r) * 9, (b * 16 + r + 1) * 9)
        expect(new Set(plane).size).toBe(1)
      }
  })

  it("module_dropout leaves whole modules out at its rate, each module and step drawing afresh", () => {
    const gains = Array.from({ length: 300 }, (_, i) => apply({ module: 0.3 }, [1, 2], linear, i).gain)
    expect(new Set(gains)).toEqual(new Set([0, 1]))
    expect(share(gains, (g) => g === 0)).toBeGreaterThan(0.22)
    expect(share(gains, (g) => g === 0)).toBeLessThan(0.38)
    const again = Array.from({ length: 300 }, (_, i) => apply({ module: 0.3 }, [1, 2], linear, i).gain)
    expect(again).toEqual(gains)
    const nextStep = Array.from({ length: 300 }, (_, i) => apply({ module: 0.3 }, [1, 2], linear, i, 2).gain)
    expect(nextStep).not.toEqual(gains)
  })
})
