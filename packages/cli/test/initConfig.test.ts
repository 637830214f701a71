import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { memorySize } from "../src/train/estimateRun.js"
import { runCli } from "./runCli.js"
import { writeCheckpoint, writeSquares } from "./trainFixtures.js"

let root = ""
let model = ""

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-init-"))
  model = join(root, "micro-sd1.safetensors")
  await writeCheckpoint(model)
})

/** A project made by `danlu init`, with images put where it says and the model and resolution set. */
const project = async (name: string, preset: string) => {
  const dir = join(root, name)
  const init = await runCli(["init", dir, "--preset", preset, "--trigger", "sks", "--base-model", model])
  expect(init.error).toBeUndefined()
  await writeSquares(join(dir, "training"), 4, 10)
  const path = join(dir, "config.toml")
  const toml = (await readFile(path, "utf8"))
    .replace(/^resolution = .*$/m, 'resolution = "64,64"')
    .replace(/^enable_bucket = true$/m, "enable_bucket = false")
    // The micro model has one text layer: no layer to skip to.
    .replace(/^clip_skip = \d+$/m, "clip_skip = 1")
  await writeFile(path, toml)
  return { dir, path }
}

describe("danlu init", () => {
  it.each(["anime", "style", "character", "realistic", "product"])(
    "writes the %s preset's config and the concept folder",
    async (preset) => {
      const dir = join(root, `init-${preset}`)
      const result = await runCli(["init", dir, "--preset", preset, "--trigger", "sks"])
      expect(result.error).toBeUndefined()
      expect(await readdir(join(dir, "training"))).toEqual(["10_sks"])
      const toml = await readFile(join(dir, "config.toml"), "utf8")
      expect(toml).toMatch(/^network_dim = \d+$/m)
      expect(toml).toContain(`train_data_dir = "${join(dir, "training")}"`)
      expect(result.output).toContain("danlu config check")
    },
  )

  it("refuses to replace a config without --force, and keeps a backup with it", async () => {
    const dir = join(root, "init-twice")
    expect((await runCli(["init", dir, "--trigger", "sks"])).error).toBeUndefined()
    expect((await runCli(["init", dir, "--trigger", "sks"])).error?.message).toMatch(/exists; add --force/)
    expect(
      (await runCli(["init", dir, "--trigger", "sks", "--force", "--preset", "anime"])).error,
    ).toBeUndefined()
    expect(await readdir(dir)).toContain("config.toml.bak")
  })
})

interface Estimated {
  readonly parameters: number
  readonly totalSteps: number
  readonly buckets: number
  readonly problems: ReadonlyArray<{ level: string; key: string; message: string }>
  readonly estimate: {
    readonly baseWeightBytes: number
    readonly networkBytes: number
    readonly staticBytes: number
    readonly peakBytes: number
    readonly totalSeconds: number | null
    readonly fits: string
    readonly measured: {
      readonly shape: string
      readonly compileSeconds: number
      readonly warmupSeconds: number
      readonly stepSeconds: number
      readonly peakBytes: number
    } | null
  }
}

describe("danlu config check", () => {
  it("passes a preset pointed at a real model and images, with the step arithmetic", async () => {
    const { path } = await project("ok", "character")
    const result = await runCli(["config", "check", path])
    expect(result.error).toBeUndefined()
    // 4 images × 10 repeats / batch 2 = 20 steps per epoch, 10 epochs.
    expect(result.output).toMatch(
      /✓ .*config\.toml: model SD 1\.x.*4 images, 20 steps per epoch, 200 steps in all/,
    )
    // One line per finding of the estimate, from the model's size and a short run on the backend.
    expect(result.output).toMatch(/^memory: .* before activations: base weights .* \(f32\), LoRA/m)
    expect(result.output).toMatch(/^measured on \w+: compiling the step for 2×4×32×32 took .*peak memory/m)
    expect(result.output).toMatch(
      /^time: about .* for 200 steps \(200 × .* \+ 1 bucket shape × .* compiling\)$/m,
    )
    expect(result.output).toMatch(/^fits: peak [\d.]+ [MG]iB of [\d.]+ GiB \([\d.]+ GiB free\)$/m)
  })

  it("estimates memory and time in JSON: the total from the measured parts, the static bytes from the model", async () => {
    const { path } = await project("estimate", "character")
    const result = await runCli(["config", "check", path, "--json"])
    expect(result.error).toBeUndefined()
    const report = JSON.parse(result.output) as Estimated
    const { estimate } = report
    const measured = estimate.measured!
    expect(measured.shape).toBe("2×4×32×32")
    for (const part of [measured.compileSeconds, measured.warmupSeconds, measured.stepSeconds])
      expect(part).toBeGreaterThan(0)
    expect(report.buckets).toBe(1)
    expect(estimate.totalSeconds).toBeCloseTo(
      report.totalSteps * measured.stepSeconds + report.buckets * measured.compileSeconds,
      9,
    )
    expect(estimate.baseWeightBytes).toBe(report.parameters * 4)
    expect(estimate.staticBytes).toBe(estimate.baseWeightBytes + estimate.networkBytes)
    expect(estimate.peakBytes).toBe(Math.max(measured.peakBytes, estimate.staticBytes))
    expect(measured.peakBytes).toBeGreaterThan(estimate.staticBytes)
    expect(estimate.fits).not.toBe("no")
  })

  it("counts the LoRA weights and moments that full_bf16 holds in half at 2 bytes each", async () => {
    const { path } = await project("full-bf16", "character")
    const plain = JSON.parse(
      (await runCli(["config", "check", path, "--json", "--no-measure"])).output,
    ) as Estimated
    const toml = (await readFile(path, "utf8")).replace(/^(mixed_precision|full_fp16|full_bf16) = .*$/gm, "")
    await writeFile(path, `${toml}\nmixed_precision = "bf16"\nfull_bf16 = true\n`)
    const result = await runCli(["config", "check", path, "--no-measure"])
    expect(result.error).toBeUndefined()
    expect(result.output).toMatch(
      /^memory: .* base weights .* \(bf16\), LoRA [\d.]+ M parameters \(bf16\) with gradients/m,
    )
    const half = JSON.parse(
      (await runCli(["config", "check", path, "--json", "--no-measure"])).output,
    ) as Estimated
    // Per LoRA parameter the weight and each float moment go from 4 bytes to 2; the f32 gradient stays.
    expect(half.estimate.networkBytes).toBeLessThan(plain.estimate.networkBytes)
    expect(half.estimate.baseWeightBytes * 2).toBe(plain.estimate.baseWeightBytes)
  })

  it("says a run won't fit: the weights alone without measuring, or the measured peak", async () => {
    const { path } = await project("no-fit", "character")
    const tiny = await runCli(["config", "check", path, "--json", "--memory", "0.0000001"])
    expect(tiny.error?.message).toMatch(/1 problem to fix before training/)
    const refused = JSON.parse(tiny.output) as Estimated
    expect(refused.estimate).toMatchObject({ fits: "no", measured: null })
    expect(refused.problems).toContainEqual({
      level: "error",
      key: "pretrained_model_name_or_path",
      message: `the weights alone need ${memorySize(refused.estimate.staticBytes)}, more than the 1 KiB (--memory) there is: train on a machine with more memory`,
    })
    // Above the weights (10 MB) but below any process's resident memory.
    const small = await runCli(["config", "check", path, "--memory", "0.05"])
    expect(small.error?.message).toMatch(/1 problem to fix before training/)
    expect(small.output).toMatch(
      /^error: train_batch_size: a step peaks at [\d.]+ [MG]iB, more than the 51 MiB \(--memory\) there is: lower train_batch_size/m,
    )
    expect(small.output).toMatch(/^measured on /m)
  })

  it("--no-measure gives the static estimate alone", async () => {
    const { path } = await project("no-measure", "character")
    const result = await runCli(["config", "check", path, "--json", "--no-measure"])
    const report = JSON.parse(result.output) as Estimated
    expect(report.estimate).toMatchObject({ measured: null, totalSeconds: null })
    expect(report.estimate.peakBytes).toBe(report.estimate.staticBytes)
  })

  it("refuses a clip_skip the model's text encoder cannot give, as training would", async () => {
    const { path } = await project("clip-skip", "character")
    await writeFile(path, `${await readFile(path, "utf8")}`.replace(/^clip_skip = 1$/m, "clip_skip = 2"))
    const result = await runCli(["config", "check", path, "--no-measure"])
    expect(result.output).toMatch(
      /^error: clip_skip: this model cannot be trained with this config: clip skip 2 must be 1 … 1$/m,
    )
  })

  it("names each broken setting on its own line and fails", async () => {
    const { path } = await project("broken", "anime")
    const toml = await readFile(path, "utf8")
    await writeFile(
      path,
      `${toml.replace(/^pretrained_model_name_or_path = .*$/m, `pretrained_model_name_or_path = "${join(root, "nope.safetensors")}"`)}\nlr_warmup_steps = 5000\n`,
    )
    const result = await runCli(["config", "check", path, "--json"])
    expect(result.error?.message).toMatch(/problems? to fix before training/)
    const report = JSON.parse(result.output) as { problems: Array<{ level: string; key: string }> }
    const keys = report.problems.filter((p) => p.level === "error").map((p) => p.key)
    expect(keys).toContain("pretrained_model_name_or_path")
    expect(keys).toContain("lr_warmup_steps")
  })

  it("warns about images without captions under the configured extension", async () => {
    const { dir, path } = await project("captions", "style")
    const toml = await readFile(path, "utf8")
    await writeFile(path, toml.replace('caption_extension = ".txt"', 'caption_extension = ".caption"'))
    const result = await runCli(["config", "check", path, "--no-measure"])
    expect(result.error).toBeUndefined()
    expect(result.output).toMatch(
      /warning: caption_extension: 4 images have no \.caption caption.*have \.txt captions/,
    )
    expect(dir).toBeTruthy()
  })
})
