import sharp from "sharp"
import { describe, expect, it } from "vitest"
import {
  crc32,
  formatInfotext,
  type GenerationParameters,
  parseInfotext,
  quoteInfotextValue,
  readGenerationParameters,
  readPngChunks,
  readPngText,
  withPngText,
  writePngChunks,
} from "../src/index.js"
import { gradient } from "./fixtures.js"

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0))

describe("PNG chunks", () => {
  it("computes the PNG CRC-32 (the IEND chunk's is fixed by the specification)", () => {
    expect(crc32(ascii("IEND"))).toBe(0xae426082)
    expect(crc32(ascii("123456789"))).toBe(0xcbf43926)
  })

  it("splits sharp's PNG into chunks and writes the same bytes back", async () => {
    const png = new Uint8Array(await gradient(16, 8).png().toBuffer())
    const chunks = readPngChunks(png)
    expect(chunks[0]!.type).toBe("IHDR")
    expect(chunks.at(-1)!.type).toBe("IEND")
    expect(writePngChunks(chunks)).toEqual(png)
  })

  it("refuses a damaged file", async () => {
    const png = new Uint8Array(await gradient(16, 8).png().toBuffer())
    const broken = png.slice()
    broken[20]! ^= 1
    expect(() => readPngChunks(broken)).toThrow(/bad CRC in IHDR/)
    expect(() => readPngChunks(png.subarray(0, png.length - 6))).toThrow(/not a valid PNG/)
    expect(() => readPngChunks(ascii("GIF89a........"))).toThrow(/signature/)
  })
})

describe("PNG text", () => {
  it("writes Latin-1 as tEXt and CJK as iTXt, before IDAT, and sharp reads both back", async () => {
    const png = new Uint8Array(await gradient(16, 8).png().toBuffer())
    const entries = [
      { keyword: "parameters", text: "猫, 1girl\nSteps: 20" },
      { keyword: "Comment", text: "a cat" },
    ]
    const tagged = withPngText(png, entries)
    const before = readPngChunks(png).map((c) => c.type)
    const at = before.indexOf("IDAT")
    expect(readPngChunks(tagged).map((c) => c.type)).toEqual([
      ...before.slice(0, at),
      "iTXt",
      "tEXt",
      ...before.slice(at),
    ])
    expect((await sharp(tagged).metadata()).comments).toEqual(entries)
    expect(readPngText(tagged)).toEqual(entries)
    const { data } = await sharp(tagged).raw().toBuffer({ resolveWithObject: true })
    expect(data).toEqual(await sharp(png).raw().toBuffer())
  })

  it("keeps tEXt Latin-1 as the PNG specification and Pillow have it", async () => {
    const png = new Uint8Array(await gradient(8, 8).png().toBuffer())
    const tagged = withPngText(png, [{ keyword: "Comment", text: "café" }])
    const chunk = readPngChunks(tagged).find((c) => c.type === "tEXt")!
    expect(chunk.data).toEqual(Uint8Array.of(...ascii("Comment"), 0, ...ascii("caf"), 0xe9))
    // (libvips decodes tEXt as UTF-8, so sharp's metadata shows é as U+FFFD; Pillow and A1111 read it right.)
    expect(readPngText(tagged)).toEqual([{ keyword: "Comment", text: "café" }])
  })

  it("replaces an entry with the same keyword instead of adding a second", async () => {
    const png = new Uint8Array(await gradient(8, 8).png().toBuffer())
    const once = withPngText(png, [{ keyword: "parameters", text: "a" }])
    const twice = withPngText(once, [{ keyword: "parameters", text: "b" }])
    expect(readPngText(twice)).toEqual([{ keyword: "parameters", text: "b" }])
  })

  it("reads the compressed iTXt and zTXt chunks other tools write", async () => {
    const { deflateSync } = await import("node:zlib")
    const png = new Uint8Array(await gradient(8, 8).png().toBuffer())
    const chunks = readPngChunks(png)
    const itxt = Uint8Array.of(
      ...ascii("prompt"),
      0,
      1,
      0,
      0,
      0,
      ...deflateSync(new TextEncoder().encode('{"猫":1}')),
    )
    const ztxt = Uint8Array.of(...ascii("workflow"), 0, 0, ...deflateSync(ascii("{}")))
    const tagged = writePngChunks([
      chunks[0]!,
      { type: "iTXt", data: itxt },
      { type: "zTXt", data: ztxt },
      ...chunks.slice(1),
    ])
    expect(readPngText(tagged)).toEqual([
      { keyword: "prompt", text: '{"猫":1}' },
      { keyword: "workflow", text: "{}" },
    ])
  })
})

describe("A1111 infotext", () => {
  const parameters: GenerationParameters = {
    prompt: "masterpiece, 1girl, (cat ears:1.2), 猫 <lora:he-tian-yi-lang:0.8>",
    negativePrompt: "lowres, bad anatomy",
    steps: 20,
    sampler: "DPM++ 2M",
    scheduleType: "Karras",
    cfgScale: 7,
    seed: 1,
    width: 512,
    height: 768,
    modelHash: "6ce0161689",
    model: "v1-5-pruned-emaonly",
    clipSkip: 2,
    loraHashes: [
      { name: "he-tian-yi-lang", hash: "a1b2c3d4e5f6" },
      { name: "style:v2", hash: "0123456789ab" },
    ],
    extra: [["Script", "X/Y/Z plot"]],
    version: "danlu 0.1.0",
  }

  it("writes A1111's layout, quoting values with commas or colons", () => {
    expect(formatInfotext(parameters)).toBe(
      "masterpiece, 1girl, (cat ears:1.2), 猫 <lora:he-tian-yi-lang:0.8>\n" +
        "Negative prompt: lowres, bad anatomy\n" +
        'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2, Lora hashes: "he-tian-yi-lang: a1b2c3d4e5f6, stylev2: 0123456789ab", Script: X/Y/Z plot, Version: danlu 0.1.0',
    )
    expect(quoteInfotextValue('say "hi", 猫')).toBe('"say \\"hi\\", 猫"')
    expect(
      formatInfotext({ ...parameters, negativePrompt: "", clipSkip: 1, loraHashes: [], extra: [] }),
    ).not.toMatch(/Negative prompt|Clip skip|Lora hashes/)
  })

  it("reads back what it wrote", () => {
    const text = formatInfotext(parameters)
    expect(readGenerationParameters(text)).toEqual({
      ...parameters,
      loraHashes: [parameters.loraHashes![0], { name: "stylev2", hash: "0123456789ab" }],
    })
    const multiline = { ...parameters, prompt: "line one\nline two: with colon", negativePrompt: "a\nb" }
    expect(readGenerationParameters(formatInfotext(multiline))).toMatchObject({
      prompt: multiline.prompt,
      negativePrompt: "a\nb",
    })
  })

  it("parses an infotext written by A1111 (the example in its parse_generation_parameters)", () => {
    const a1111 =
      "girl with an artist's beret, determined, blue eyes, desert scene, computer monitors, heavy makeup, by Alphonse Mucha and Charlie Bowater, ((fashion photography))\n" +
      "Negative prompt: ugly, fat, obese, chubby, (((deformed))), [blurry], bad anatomy, disfigured, poorly drawn face, mutation, mutated, (extra_limb), (ugly), (poorly drawn hands), messy drawing\n" +
      "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x512, Model hash: 45dee52b"
    const info = parseInfotext(a1111)
    expect(info.prompt).toMatch(/^girl with an artist's beret.*\(\(fashion photography\)\)$/)
    expect(info.negativePrompt).toMatch(/^ugly, fat, .*messy drawing$/)
    expect(info.fields).toEqual([
      ["Steps", "20"],
      ["Sampler", "Euler a"],
      ["CFG scale", "7"],
      ["Seed", "965400086"],
      ["Size", "512x512"],
      ["Model hash", "45dee52b"],
    ])
    expect(readGenerationParameters(a1111)).toMatchObject({
      steps: 20,
      seed: 965400086,
      width: 512,
      height: 512,
    })
  })

  it("parses a recent A1111 infotext with quoted Lora hashes and an escaped quote", () => {
    const a1111 =
      "1girl, solo, <lora:hanfu:0.7>\n" +
      "Negative prompt: (worst quality, low quality:1.4)\n" +
      'Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3482101927, Size: 512x768, Model hash: 7f96a1a9ca, Model: anything-v5, Denoising strength: 0.5, Hires upscale: 2, Lora hashes: "hanfu: 2d9e3a1c0b7f", TI hashes: "easynegative: c74b4e810b03", Style: "say \\"hi\\"", Version: v1.10.1'
    const p = readGenerationParameters(a1111)
    expect(p).toMatchObject({
      prompt: "1girl, solo, <lora:hanfu:0.7>",
      negativePrompt: "(worst quality, low quality:1.4)",
      sampler: "DPM++ 2M",
      scheduleType: "Karras",
      cfgScale: 6.5,
      seed: 3482101927,
      width: 512,
      height: 768,
      loraHashes: [{ name: "hanfu", hash: "2d9e3a1c0b7f" }],
      version: "v1.10.1",
    })
    expect(p.extra).toEqual([
      ["Denoising strength", "0.5"],
      ["Hires upscale", "2"],
      ["TI hashes", "easynegative: c74b4e810b03"],
      ["Style", 'say "hi"'],
    ])
  })

  it("keeps a last line with fewer than three pairs in the prompt, as A1111 does", () => {
    expect(parseInfotext("a cat\nStyle: watercolour")).toEqual({
      prompt: "a cat\nStyle: watercolour",
      negativePrompt: "",
      fields: [],
    })
    expect(() => readGenerationParameters("a cat")).toThrow(/no "Steps" field/)
  })
})
