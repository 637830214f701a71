import { readdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { layer as onnxLayer } from "@danlu/backend-onnx"
import {
  castHostFloat,
  fromHostTensor,
  isUnetWeight,
  resolveTrainConfig,
  type TrainConfig,
  toHostTensor,
  vaePrefix,
} from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { finetune, type TrainRunEvent } from "@danlu/dataset"
import { Effect } from "effect"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"
import { metadataOf, microTrainingSet, tensorBytes } from "./trainFixtures.js"

let root = ""
let model = ""
let data = ""
let base: Record<string, Uint8Array> = {}

beforeAll(async () => {
  ;({ root, model, data } = await microTrainingSet("danlu-finetune-"))
  base = await tensorBytes(model)
})

const isVae = (key: string) => key.startsWith(`${vaePrefix}.`)
const isText = (key: string) => key.startsWith("cond_stage_model.")
const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) =>
  a !== undefined && b !== undefined && Buffer.from(a).equals(Buffer.from(b))

const config = (out: string, overrides: Partial<TrainConfig>): TrainConfig =>
  resolveTrainConfig({
    pretrainedModelNameOrPath: model,
    trainDataDir: data,
    outputDir: join(root, out),
    outputName: "ft",
    resolution: { width: 16, height: 16 },
    learningRate: 1e-3,
    trainBatchSize: 2,
    maxTrainEpochs: 2,
    captionExtension: ".txt",
    seed: 7,
    backend: "onnx",
    ...overrides,
  })

/** Runs the library's fine-tuning; `stopAfter` asks it to stop after that many steps, as Ctrl-C does. */
const runFinetune = (c: TrainConfig, stopAfter?: number) => {
  const events: Array<TrainRunEvent> = []
  const steps = () => events.filter((e) => e.type === "step").length
  return Effect.runPromise(
    Effect.scoped(
      finetune(c, {
        emit: (e) => events.push(e),
        stopRequested: () => stopAfter !== undefined && steps() >= stopAfter,
      }),
    ).pipe(Effect.provide(onnxLayer)),
  ).then((result) => ({ result, events }))
}

const cliArgs = (out: string, ...extra: Array<string>) => [
  "finetune",
  "--pretrained_model_name_or_path",
  model,
  "--train_data_dir",
  data,
  "--output_dir",
  join(root, out),
  "--output_name",
  "ft",
  "--resolution",
  "16",
  "--learning_rate",
  "1e-3",
  "--train_batch_size",
  "2",
  "--max_train_epochs",
  "2",
  "--caption_extension",
  ".txt",
  "--seed",
  "7",
  "--backend",
  "onnx",
  ...extra,
]

describe("danlu finetune", () => {
  it("trains the whole UNet and text encoder into a checkpoint in the original LDM layout that model inspect and generate load", async () => {
    const result = await runCli(
      cliArgs("cli", "--save_every_n_epochs", "1", "--learning_rate_te", "5e-4", "--network_dim", "8"),
    )
    expect(result.error?.message).toBeUndefined()
    expect(result.errorOutput).toContain("ignoring network_dim: no effect in danlu")
    const files = (await readdir(join(root, "cli"))).filter((f) => f.endsWith(".safetensors")).sort()
    expect(files).toEqual(["ft-000001.safetensors", "ft.safetensors"])
    const path = join(root, "cli", "ft.safetensors")
    const written = await tensorBytes(path)
    expect(Object.keys(written).sort()).toEqual(Object.keys(base).sort())
    for (const [key, bytes] of Object.entries(written)) {
      // The VAE is copied; every UNet and text-encoder weight moved (AdamW's weight decay moves even unused rows).
      if (isVae(key)) expect(same(bytes, base[key]), key).toBe(true)
      else expect(same(bytes, base[key]), key).toBe(false)
    }
    const file = await Effect.runPromise(Effect.scoped(openModelFile(path)))
    for (const info of file.tensors) expect(info.dtype).toBe("F32")
    const metadata = await metadataOf(path)
    const baseMetadata = await metadataOf(model)
    expect(metadata["danlu.architecture"]).toBe(baseMetadata["danlu.architecture"])
    expect(metadata["modelspec.architecture"]).toBe("stable-diffusion-v1")
    expect(metadata["modelspec.title"]).toBe("ft")
    expect(metadata.ss_steps).toBe("8")
    expect(metadata.ss_learning_rate_te).toBe("0.0005")

    const inspected = await runCli(["model", "inspect", path, "--json"])
    expect(inspected.error?.message).toBeUndefined()
    expect(JSON.parse(inspected.output).checkpoint.total.tensors).toBe(Object.keys(base).length)
    const drawn = await runCli([
      "generate",
      "--model",
      path,
      "--prompt",
      "sks, red square",
      "--steps",
      "2",
      "--seed",
      "3",
      "--width",
      "16",
      "--height",
      "16",
      "--out",
      join(root, "drawn"),
      "--backend",
      "onnxruntime",
    ])
    expect(drawn.error?.message).toBeUndefined()
    expect(await readdir(join(root, "drawn"))).toContain("00000-3.png")
  }, 240_000)

  it("keeps a frozen text encoder byte-identical and samples from the checkpoint; stop_text_encoder_training freezes it from that step; save_precision casts", async () => {
    const prompts = join(root, "prompts.txt")
    await writeFile(prompts, "sks square --n blurry --w 64 --h 64 --d 7 --s 3 --l 5\n")
    const sampling = {
      samplePrompts: prompts,
      sampleAtFirst: true,
      sampleEveryNEpochs: 1,
      sampleSampler: "euler_a" as const,
    }
    await runFinetune(config("frozen", { stopTextEncoderTraining: -1, maxTrainEpochs: 1, ...sampling }))
    const frozen = await tensorBytes(join(root, "frozen", "ft.safetensors"))
    for (const [key, bytes] of Object.entries(frozen))
      expect(same(bytes, base[key]), key).toBe(!isUnetWeight(key))
    // Samples before the first step and at the end, the last one drawn from the file written there.
    const samples = (await readdir(join(root, "frozen", "sample"))).filter((f) => f.endsWith(".png")).sort()
    expect(samples).toHaveLength(2)
    expect(samples[0]).toMatch(/^ft_000000_00_\d{14}_7\.png$/)
    expect(samples[1]).toMatch(/^ft_e000001_00_\d{14}_7\.png$/)
    const again = join(root, "frozen-again")
    const generated = await runCli([
      "generate",
      "--model",
      join(root, "frozen", "ft.safetensors"),
      "--prompt",
      "sks square",
      "--negative",
      "blurry",
      "--sampler",
      "Euler a",
      "--steps",
      "3",
      "--cfg",
      "5",
      "--seed",
      "7",
      "--width",
      "64",
      "--height",
      "64",
      "--out",
      again,
      "--backend",
      "onnxruntime",
    ])
    expect(generated.error).toBeUndefined()
    const [drawn] = await readdir(again)
    expect(await sharp(join(again, drawn!)).raw().toBuffer()).toEqual(
      await sharp(join(root, "frozen", "sample", samples[1]!))
        .raw()
        .toBuffer(),
    )

    await runFinetune(
      config("stopped", {
        stopTextEncoderTraining: 2,
        saveEveryNSteps: 2,
        savePrecision: "fp16",
        maxTrainEpochs: 1,
      }),
    )
    const atStop = await tensorBytes(join(root, "stopped", "ft-step00000002.safetensors"))
    const last = await tensorBytes(join(root, "stopped", "ft.safetensors"))
    const file = await Effect.runPromise(
      Effect.scoped(openModelFile(join(root, "stopped", "ft.safetensors"))),
    )
    for (const info of file.tensors) {
      expect(info.dtype, info.name).toBe("F16")
      const { name } = info
      if (isText(name)) {
        expect(same(atStop[name], last[name]), name).toBe(true)
        expect(same(last[name], castBytes(base, name)), name).toBe(false)
      }
      if (isUnetWeight(name)) expect(same(atStop[name], last[name]), name).toBe(false)
      if (isVae(name)) expect(same(last[name], castBytes(base, name)), name).toBe(true)
    }
  }, 240_000)

  it("a run stopped mid-epoch and resumed from its state ends bit-identical to the uninterrupted CLI run above", async () => {
    // The first test's run, through the library: the same options, stopped after 3 of its 8 steps.
    const options = { learningRateTe: 5e-4, saveEveryNEpochs: 1 }
    const stopped = await runFinetune(config("parts", options), 3)
    expect(stopped.result.interrupted).toBe(true)
    expect(stopped.result.progress.step).toBe(3)
    const resumed = await runFinetune(config("parts", { ...options, resume: stopped.result.statePath! }))
    expect(resumed.events.filter((e) => e.type === "step")).toHaveLength(5)
    for (const name of ["ft-000001.safetensors", "ft.safetensors"]) {
      const a = await tensorBytes(join(root, "cli", name))
      const b = await tensorBytes(join(root, "parts", name))
      for (const key of Object.keys(a)) expect(same(a[key], b[key]), `${name} ${key}`).toBe(true)
    }
    await expect(
      runFinetune(config("parts", { resume: stopped.result.statePath!, stopTextEncoderTraining: -1 })),
    ).rejects.toThrow(/state of another run: stop_text_encoder_training is None there and -1 here/)
  }, 240_000)

  it("full_bf16 holds the trained UNet and text-encoder weights and their AdamW moments in bf16 and writes them so", async () => {
    await runFinetune(
      config("full-bf16", { mixedPrecision: "bf16", fullBf16: true, maxTrainEpochs: 1, saveState: true }),
    )
    const path = join(root, "full-bf16", "ft.safetensors")
    const metadata = await metadataOf(path)
    expect([metadata.ss_full_fp16, metadata.ss_full_bf16]).toEqual(["False", "True"])
    const written = await Effect.runPromise(
      Effect.scoped(Effect.map(openModelFile(path), (f) => f.tensors.map((t) => [t.name, t.dtype] as const))),
    )
    // save_precision unset keeps the dtype trained in.
    for (const [name, dtype] of written) if (!isVae(name)) expect([name, dtype]).toEqual([name, "BF16"])
    // The weights moved from the base rounded to bf16, but not all: at lr 1e-3 an update is below half a
    // bf16 unit of a weight near 1 (a norm's scale) and is lost, as it is in kohya's full_bf16.
    const trained = await tensorBytes(path)
    const moved = { unet: 0, text: 0, kept: [] as Array<string> }
    for (const [key, bytes] of Object.entries(base)) {
      if (isVae(key)) continue
      const f32 = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
      const rounded = castHostFloat({ dtype: "f32", shape: [f32.length], data: f32 }, "bf16").data
      if (same(trained[key], new Uint8Array(rounded.buffer))) moved.kept.push(key)
      else if (isText(key)) moved.text++
      else moved.unet++
    }
    expect(moved.unet).toBeGreaterThan(100)
    expect(moved.text).toBeGreaterThan(10)
    // Only the norms' scales (1 ± lr) stay, and k_proj.bias, whose gradient through the softmax is 0.
    const normScale = /((norm\d?|layer_norm\d|in_layers\.0|out_layers\.0|out\.0)\.weight|k_proj\.bias)$/
    for (const key of moved.kept) expect(key).toMatch(normScale)
    const state = await Effect.runPromise(
      Effect.scoped(
        Effect.map(openModelFile(join(root, "full-bf16", "ft-state", "state.safetensors")), (f) =>
          Object.fromEntries(f.tensors.map((t) => [t.name, t.dtype])),
        ),
      ),
    )
    const unetWeight = Object.keys(state).find((name) => isUnetWeight(name))!
    const textWeight = Object.keys(state).find((name) => isText(name))!
    // AdamW's moments, one vector per group (UNet, text encoder), are held in bf16 as the weights are.
    for (const name of [unetWeight, textWeight, "optimizer.group0.exp_avg", "optimizer.group1.exp_avg_sq"])
      expect([name, state[name]]).toEqual([name, "BF16"])
  }, 240_000)

  it("refuses what it can check before the first step, in one line", async () => {
    const refusals: Array<[Array<string>, RegExp]> = [
      [["--stop_text_encoder_training", "-2"], /stop_text_encoder_training -2: expected an integer ≥ -1/],
      [["--cache_text_encoder_outputs"], /cache_text_encoder_outputs needs stop_text_encoder_training = -1/],
    ]
    // A LoRA config reused for fine-tuning: its network options are listed as unused, and the other way round.
    const kohyaToml = fileURLToPath(new URL("fixtures/train/kohya_ss-gui.toml", import.meta.url))
    const reused = await runCli(["finetune", "--config_file", kohyaToml])
    expect(reused.errorOutput).toContain("danlu: ignoring network_dim: no effect in danlu")
    const lora = await runCli(["train", "--config_file", kohyaToml, "--stop_text_encoder_training", "5"])
    expect(lora.errorOutput).toContain("danlu: ignoring stop_text_encoder_training: no effect in danlu")
    for (const [extra, message] of refusals) {
      const result = await runCli(cliArgs("refused", ...extra))
      expect(result.ok).toBe(false)
      expect(result.error?.message).toMatch(message)
      expect(result.error?.message.includes("\n")).toBe(false)
    }
  }, 240_000)
})

/** A base tensor's bytes after the fp16 cast save_precision applies. */
const castBytes = (tensors: Record<string, Uint8Array>, key: string) => {
  const bytes = tensors[key]!
  const host = toHostTensor({ dtype: "F32", shape: [bytes.length / 4], bytes })
  return fromHostTensor(castHostFloat(host, "f16")).bytes
}
