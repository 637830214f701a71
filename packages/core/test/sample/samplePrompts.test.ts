import { describe, expect, it } from "vitest"
import { kohyaSampler, parseSamplePromptLine, parseSamplePrompts } from "../../src/sample/samplePrompts.js"

describe("kohya's sample prompt file", () => {
  it("reads kohya's documented example line", () => {
    expect(
      parseSamplePromptLine(
        "masterpiece, 1girl --n low quality, worst quality --w 768 --h 768 --d 1 --l 7.5 --s 28",
      ),
    ).toEqual({
      prompt: "masterpiece, 1girl",
      negativePrompt: "low quality, worst quality",
      width: 768,
      height: 768,
      seed: 1,
      steps: 28,
      cfgScale: 7.5,
      sampler: undefined,
    })
  })

  it("fills kohya's defaults, rounds sizes down to 8 (at least 64) and clamps steps", () => {
    expect(parseSamplePromptLine("a cat --w 500 --h 20 --s 5000 --ss euler_a")).toMatchObject({
      prompt: "a cat",
      width: 496,
      height: 64,
      steps: 1000,
      cfgScale: 7.5,
      seed: undefined,
      negativePrompt: "",
      sampler: "euler_a",
    })
  })

  it("skips blank lines and comments, and names the line of a bad number", () => {
    const prompts = parseSamplePrompts("# samples\n\nsks square --d 3\r\nsks circle --l 5\n")
    expect(prompts.map((p) => [p.prompt, p.seed, p.cfgScale])).toEqual([
      ["sks square", 3, 7.5],
      ["sks circle", undefined, 5],
    ])
    expect(() => parseSamplePrompts("ok\nbad --w wide")).toThrow(/line 2: width "wide" is not a number/)
  })

  it("maps kohya's sampler names to the samplers danlu runs", () => {
    expect(kohyaSampler("DDIM")).toEqual({ sampler: "DDIM", scheduler: "automatic" })
    expect(kohyaSampler("k_euler_a")).toEqual({ sampler: "Euler a", scheduler: "automatic" })
    expect(kohyaSampler("dpmsolver++")?.sampler).toBe("DPM++ 2M")
    expect(kohyaSampler("pndm")).toBeUndefined()
  })
})
