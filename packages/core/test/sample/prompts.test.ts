import { beforeAll, describe, expect, it } from "vitest"
import {
  type ClipTokenizer,
  chunkPrompt,
  loadClipTokenizer,
  Reference,
  Sample,
  T,
  type Tensor,
} from "../../src/index.js"

describe("<lora:…> tags", () => {
  it("cuts every tag out and reads each LoRA's multipliers", () => {
    const parsed = Sample.extractLoras("a cat <lora:foo:0.8>, <lora:bar> on a mat<lora:my lora v1.2:-0.5>")
    expect(parsed.prompt).toBe("a cat ,  on a mat")
    expect(parsed.loras).toEqual([
      { name: "foo", teMultiplier: 0.8, unetMultiplier: 0.8 },
      { name: "bar", teMultiplier: 1, unetMultiplier: 1 },
      { name: "my lora v1.2", teMultiplier: -0.5, unetMultiplier: -0.5 },
    ])
    expect(parsed.others).toEqual([])
  })

  it("reads text-encoder and UNet multipliers apart, positionally or by name, and <lyco:…>", () => {
    const parsed = Sample.extractLoras(
      "<lyco:a:0.5:0.3> <lora:b:te=0.2:unet=0.9> <lora:c:1:unet=.4> <lora:猫:1e-1>",
    )
    expect(parsed.loras).toEqual([
      { name: "a", teMultiplier: 0.5, unetMultiplier: 0.3 },
      { name: "b", teMultiplier: 0.2, unetMultiplier: 0.9 },
      { name: "c", teMultiplier: 1, unetMultiplier: 0.4 },
      { name: "猫", teMultiplier: 0.1, unetMultiplier: 0.1 },
    ])
  })

  it("lists other extra networks and leaves what is not a tag", () => {
    const parsed = Sample.extractLoras("x <hypernet:h:0.7> <lo-ra:y> <lora:>")
    expect(parsed.prompt).toBe("x  <lo-ra:y> <lora:>")
    expect(parsed.others).toEqual([{ type: "hypernet", items: ["h", "0.7"] }])
    expect(parsed.loras).toEqual([])
  })

  it("refuses tags A1111 fails on", () => {
    expect(() => Sample.extractLoras("<lora:x:abc>")).toThrow(Sample.LoraTagError)
    expect(() => Sample.extractLoras("<lora::1>")).toThrow(/names no LoRA/)
  })
})

describe("sampler names", () => {
  it("splits A1111's combined names and folds a sampler's own default into automatic", () => {
    expect(Sample.parseSamplerName("DPM++ 2M Karras")).toEqual({
      sampler: "DPM++ 2M",
      scheduler: "automatic",
    })
    expect(Sample.parseSamplerName("DPM++ SDE Karras")).toEqual({
      sampler: "DPM++ SDE",
      scheduler: "automatic",
    })
    expect(Sample.parseSamplerName("DPM++ 2M", "uniform")).toEqual({
      sampler: "DPM++ 2M",
      scheduler: "uniform",
    })
    expect(Sample.parseSamplerName("Euler a", "Karras")).toEqual({ sampler: "Euler a", scheduler: "karras" })
    expect(Sample.parseSamplerName("Euler exponential")).toEqual({
      sampler: "Euler",
      scheduler: "exponential",
    })
    expect(Sample.parseSamplerName("k_euler_a")).toEqual({ sampler: "Euler a", scheduler: "automatic" })
    expect(Sample.parseSamplerName("DDIM", "karras")).toEqual({ sampler: "DDIM", scheduler: "automatic" })
    expect(() => Sample.parseSamplerName("LMS")).toThrow(Sample.SamplerNameError)
    expect(() => Sample.parseSamplerName("Euler", "beta")).toThrow(/schedule type/)
  })

  it("names the schedule type as A1111 writes it into a picture's parameters", () => {
    const label = (name: string, scheduler?: string) =>
      Sample.scheduleTypeLabel(Sample.parseSamplerName(name, scheduler))
    expect(label("DPM++ 2M")).toBe("Karras")
    expect(label("DPM++ SDE Karras")).toBe("Karras")
    expect(label("DPM++ 2M", "exponential")).toBe("Exponential")
    expect(label("Euler a")).toBeUndefined()
    expect(label("Euler a", "uniform")).toBe("Uniform")
    expect(label("DDIM")).toBeUndefined()
  })

  it("resolves automatic as A1111 1.9+ does", () => {
    const schedule = Sample.discreteSchedule()
    const sigmas = (name: string) =>
      Array.from(Sample.samplerSigmas(schedule, Sample.parseSamplerName(name), 12))
    expect(sigmas("DPM++ 2M")).toEqual(
      Array.from(Sample.karrasSigmas(12, schedule.sigmaMin, schedule.sigmaMax)),
    )
    expect(sigmas("Euler a")).toEqual(Array.from(Sample.uniformSigmas(schedule, 12)))
    expect(sigmas("DPM++ 2M Uniform")).toEqual(sigmas("Euler"))
  })
})

describe("prompt conditioning with A1111's emphasis", () => {
  let tokenizer: ClipTokenizer
  beforeAll(async () => {
    tokenizer = await loadClipTokenizer()
  })

  const width = 3
  const features = [0.011, -0.007, 0.003]
  // A stand-in text encoder: position-independent features of each token id.
  const encode = (tokens: Tensor) =>
    T.add(
      T.sin(
        T.mul(T.reshape(T.cast(tokens, "f32"), [...tokens.shape, 1]), T.constant(features, [1, 1, width])),
      ),
      0.5,
    )

  it("weights each chunk, restores its mean and lays the chunks side by side", () => {
    const tokenized = chunkPrompt(tokenizer, "a (red:1.5) cat BREAK on a [mat]", { pad: "end-of-text" })
    expect(tokenized.chunks.length).toBe(2)
    const graph = Sample.promptConditioningGraph(encode, 2)
    const inputs = Sample.promptConditioningInputs(tokenized)
    const [out] = Reference.evaluateExact([graph.conditioning], {
      prompt_tokens: inputs.prompt_tokens.data,
      prompt_weights: Float64Array.from(inputs.prompt_weights.data),
    })
    expect(graph.conditioning.shape).toEqual([1, 2 * 77, width])
    tokenized.chunks.forEach((chunk, k) => {
      const z = Array.from(chunk.ids, (id) => features.map((f) => Math.sin(id * f) + 0.5))
      const mean = (rows: number[][]) => rows.flat().reduce((a, b) => a + b, 0) / (rows.length * width)
      const weighted = z.map((row, p) => row.map((v) => v * chunk.weights[p]!))
      const ratio = mean(z) / mean(weighted)
      for (const [p, row] of weighted.entries()) {
        for (const [d, v] of row.entries()) expect(out![(k * 77 + p) * width + d]).toBeCloseTo(v * ratio, 12)
      }
    })
    const weights = Array.from(tokenized.chunks[0]!.weights)
    expect(weights.some((w) => Math.abs(w - 1.5) < 1e-6)).toBe(true)
  })
})
