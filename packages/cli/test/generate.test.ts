import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer as onnx } from "@danlu/backend-onnx"
import { Backend, mergeLora, type ProgressEvent, withProgress } from "@danlu/core"
import { backendRequired } from "@danlu/core/testing"
import {
  decodeImageRgb,
  generateWith,
  openGenerator,
  readGenerationParameters,
  readPngText,
} from "@danlu/dataset"
import { Effect, Exit, Layer, type Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"
import { tinyLoraModules, tinyModelWeights, tinySdxl, writeTinyLora, writeTinyModel } from "./tinySd.js"

/** Why WebGPU cannot run here (its test is skipped), or undefined; where CI requires it, a failure. */
const webgpuMissing = await (async () => {
  const { WebGpu } = await import("@danlu/backend-webgpu")
  const exit = await Effect.runPromiseExit(
    Effect.scoped(
      Effect.gen(function* () {
        const backend = yield* Backend
        return yield* backend.describe
      }),
    ).pipe(Effect.provide(WebGpu.layer())),
  )
  if (Exit.isSuccess(exit)) return undefined
  if (backendRequired("webgpu")) throw new Error(`webgpu must be available here: ${String(exit.cause)}`)
  return String(exit.cause)
})()

let dir: string
let model: string
let loras: string

/** backend-onnx with its compiles counted, so a test sees when a program is rebuilt. */
let compiled = 0
const counting = Layer.effect(
  Backend,
  Effect.gen(function* () {
    const backend = yield* Backend
    return {
      ...backend,
      compile: (graph: Parameters<typeof backend.compile>[0]) => {
        compiled++
        return backend.compile(graph)
      },
    }
  }),
).pipe(Layer.provide(onnx))

const run = <A>(effect: Effect.Effect<A, unknown, Backend | Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect).pipe(Effect.provide(counting)) as Effect.Effect<A, unknown>)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-generate-"))
  model = join(dir, "tiny.safetensors")
  loras = join(dir, "loras")
  await mkdir(loras)
  await writeTinyModel(model)
  await writeTinyLora(join(loras, "style.safetensors"))
  await writeTinyLora(join(loras, "other-base.safetensors"), { family: "sd2" })
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const settings = {
  prompt: "a cat, (red:1.2)",
  negativePrompt: "blurry",
  sampler: "Euler",
  steps: 3,
  cfgScale: 5,
  seed: 11,
  width: 16,
  height: 16,
}

describe("generate", () => {
  it("writes A1111-named PNGs whose parameters parse back, the same seed giving the same picture", async () => {
    const out = join(dir, "plain")
    const progress: Array<ProgressEvent> = []
    const files = await run(
      Effect.gen(function* () {
        const generator = yield* openGenerator(model)
        const first = yield* generateWith(generator, {
          ...settings,
          batch: 2,
          outDir: out,
          version: "danlu test",
        }).pipe(withProgress((event) => progress.push(event)))
        const again = yield* generateWith(generator, { ...settings, seed: 12, outDir: out })
        return { first, again }
      }),
    )
    expect((await readdir(out)).sort()).toEqual(["00000-11.png", "00001-12.png", "00002-12.png"])
    // The batch is drawn in one sampler run: one update per step up to the total, timed from the first.
    expect(progress.map((e) => (e.type === "progress" ? [e.task, e.unit, e.done, e.total] : e))).toEqual(
      [1, 2, 3].map((step) => ["generate", "step", step, 3]),
    )
    expect(progress.map((e) => e.type === "progress" && e.rate !== undefined)).toEqual([false, true, true])
    const png = new Uint8Array(await readFile(join(out, "00000-11.png")))
    const text = readPngText(png).find((entry) => entry.keyword === "parameters")!.text
    const parsed = readGenerationParameters(text)
    expect(parsed).toMatchObject({
      prompt: "a cat, (red:1.2)",
      negativePrompt: "blurry",
      steps: 3,
      sampler: "Euler",
      cfgScale: 5,
      seed: 11,
      width: 16,
      height: 16,
      model: "tiny",
      version: "danlu test",
    })
    expect(parsed.modelHash).toMatch(/^[0-9a-f]{10}$/)
    // Batch seeds are seed, seed + 1; the second picture of the batch is the same as seed 12 alone.
    const batchSecond = await decodeImageRgb(join(out, "00001-12.png"))
    const alone = await decodeImageRgb(join(out, "00002-12.png"))
    expect(Buffer.from(alone.data).equals(Buffer.from(batchSecond.data))).toBe(true)
    const other = await decodeImageRgb(join(out, "00000-11.png"))
    expect(Buffer.from(other.data).equals(Buffer.from(alone.data))).toBe(false)
    expect(files.first.every((image) => !image.nonFinite)).toBe(true)
  })

  it("applies <lora:…> at a weight fed at run time: weight 0 is the base picture, 0.8 differs, no recompile", async () => {
    const out = join(dir, "lora")
    compiled = 0
    const result = await run(
      Effect.gen(function* () {
        const generator = yield* openGenerator(model)
        const base = yield* generateWith(generator, { ...settings, outDir: out })
        const zero = yield* generateWith(generator, {
          ...settings,
          prompt: `${settings.prompt} <lora:style:0>`,
          loraDir: loras,
          outDir: out,
        })
        const compilesAfterZero = compiled
        const strong = yield* generateWith(generator, {
          ...settings,
          prompt: `${settings.prompt} <lora:style:0.8>`,
          loraDir: loras,
          outDir: out,
        })
        // Another epoch of the same run: same layout, new weights, so new buffers and no new program.
        yield* Effect.promise(() => writeTinyLora(join(loras, "style-000001.safetensors"), { seed: 8 }))
        const epoch = yield* generateWith(generator, {
          ...settings,
          prompt: `${settings.prompt} <lora:style-000001:0.8>`,
          loraDir: loras,
          outDir: out,
        })
        // The same file rewritten in place (a run saving again) is read again.
        yield* Effect.promise(() => writeTinyLora(join(loras, "style-000001.safetensors"), { seed: 9 }))
        const rewritten = yield* generateWith(generator, {
          ...settings,
          prompt: `${settings.prompt} <lora:style-000001:0.8>`,
          loraDir: loras,
          outDir: out,
        })
        return { base, zero, strong, epoch, rewritten, compilesAfterZero, compilesAfterStrong: compiled }
      }),
    )
    const bytes = (image: { image: { data: Uint8Array } }) => Buffer.from(image.image.data)
    expect(bytes(result.zero[0]!).equals(bytes(result.base[0]!))).toBe(true)
    expect(bytes(result.strong[0]!).equals(bytes(result.base[0]!))).toBe(false)
    expect(result.compilesAfterStrong).toBe(result.compilesAfterZero)
    expect(bytes(result.epoch[0]!).equals(bytes(result.strong[0]!))).toBe(false)
    expect(bytes(result.rewritten[0]!).equals(bytes(result.epoch[0]!))).toBe(false)
    const parsed = readGenerationParameters(result.strong[0]!.parameters)
    expect(parsed.prompt).toBe(`${settings.prompt} <lora:style:0.8>`)
    expect(parsed.loraHashes?.[0]?.name).toBe("style")
    expect(parsed.loraHashes?.[0]?.hash).toMatch(/^[0-9a-f]{12}$/)
  })

  it("adds the LoRA as merging it into the base weights would (mergeLora at the same weight)", async () => {
    const base = tinyModelWeights()
    const merged = mergeLora(base, tinyLoraModules(), 0.8)
    const mergedModel = join(dir, "merged.safetensors")
    await writeTinyModel(mergedModel, { ...base, ...Object.fromEntries(merged) })
    const draw = (path: string, prompt: string) =>
      run(
        Effect.flatMap(openGenerator(path), (generator) =>
          generateWith(generator, { ...settings, prompt, loraDir: loras, outDir: join(dir, "merge") }),
        ),
      )
    const [applied] = await draw(model, `${settings.prompt} <lora:style:0.8>`)
    const [baked] = await draw(mergedModel, settings.prompt)
    const [plain] = await draw(model, settings.prompt)
    const difference = (a: Uint8Array, b: Uint8Array) => {
      let total = 0
      for (let i = 0; i < a.length; i++) total += Math.abs(a[i]! - b[i]!)
      return total / a.length
    }
    const unmerged = difference(applied!.image.data, baked!.image.data)
    // Float rounding of the two routes may move a pixel by a level or two; the LoRA itself moves far more.
    expect(unmerged).toBeLessThan(1)
    expect(difference(plain!.image.data, baked!.image.data)).toBeGreaterThan(10 * Math.max(unmerged, 0.5))
  })

  it.skipIf(webgpuMissing !== undefined)("draws the same picture on WebGPU as on ONNX Runtime", async () => {
    const draw = (backend: string) =>
      runCli([
        "generate",
        "--model",
        model,
        "--prompt",
        `${settings.prompt} <lora:style:0.8>`,
        "--lora-dir",
        loras,
        "--sampler",
        "Euler a",
        "--steps",
        "3",
        "--seed",
        "9",
        "--width",
        "16",
        "--height",
        "16",
        "--out",
        join(dir, backend),
        "--backend",
        backend,
      ])
    for (const backend of ["onnxruntime", "webgpu"])
      expect((await draw(backend)).error?.message).toBeUndefined()
    const onnxImage = await decodeImageRgb(join(dir, "onnxruntime", "00000-9.png"))
    const webgpuImage = await decodeImageRgb(join(dir, "webgpu", "00000-9.png"))
    let largest = 0
    for (let i = 0; i < onnxImage.data.length; i++)
      largest = Math.max(largest, Math.abs(onnxImage.data[i]! - webgpuImage.data[i]!))
    expect(largest).toBeLessThanOrEqual(2)
  })

  it("draws SDXL: two text encoders, the pooled vector and sizes, a LoRA on all three parts", async () => {
    const sdxlModel = join(dir, "tiny-xl.safetensors")
    const sdxlLoras = join(dir, "xl-loras")
    await mkdir(sdxlLoras)
    await writeTinyModel(sdxlModel, tinyModelWeights(2026, tinySdxl), tinySdxl)
    await writeTinyLora(join(sdxlLoras, "xl.safetensors"), { family: "sdxl" })
    const out = join(dir, "xl")
    const drawn = await run(
      Effect.gen(function* () {
        const generator = yield* openGenerator(sdxlModel)
        // An empty negative prompt: A1111 zeroes SDXL's text embeddings for it.
        const draw = (prompt: string) =>
          generateWith(generator, {
            ...settings,
            steps: 2,
            prompt,
            negativePrompt: "",
            loraDir: sdxlLoras,
            outDir: out,
          })
        return {
          base: yield* draw(settings.prompt),
          zero: yield* draw(`${settings.prompt} <lora:xl:0>`),
          strong: yield* draw(`${settings.prompt} <lora:xl:0.8>`),
        }
      }),
    )
    const bytes = (images: ReadonlyArray<{ image: { data: Uint8Array } }>) =>
      Buffer.from(images[0]!.image.data)
    expect(drawn.base[0]!.nonFinite).toBe(false)
    expect(bytes(drawn.zero).equals(bytes(drawn.base))).toBe(true)
    expect(bytes(drawn.strong).equals(bytes(drawn.base))).toBe(false)
  })

  it("refuses a LoRA of another family in one line naming both", async () => {
    const result = await runCli([
      "generate",
      "--model",
      model,
      "--prompt",
      "a cat <lora:other-base:0.8>",
      "--lora-dir",
      loras,
      "--width",
      "16",
      "--height",
      "16",
      "--steps",
      "2",
      "--out",
      join(dir, "refused"),
      "--backend",
      "onnxruntime",
    ])
    expect(result.ok).toBe(false)
    expect(result.error?.message).toMatch(
      /other-base\.safetensors is a LoRA for SD 2.*tiny\.safetensors is SD 1/,
    )
    expect(result.error?.message.includes("\n")).toBe(false)
  })

  it("runs from the CLI and prints the files", async () => {
    const out = join(dir, "cli")
    const result = await runCli([
      "generate",
      "--model",
      model,
      "--prompt",
      "a cat <lora:style:0.5>",
      "--lora-dir",
      loras,
      "--sampler",
      "DPM++ 2M Karras",
      "--steps",
      "2",
      "--seed",
      "5",
      "--width",
      "16",
      "--height",
      "16",
      "--batch",
      "2",
      "--out",
      out,
      "--backend",
      "onnxruntime",
    ])
    expect(result.error?.message).toBeUndefined()
    expect(result.output).toContain("00000-5.png")
    expect((await readdir(out)).sort()).toEqual(["00000-5.png", "00001-6.png"])
  })
})
