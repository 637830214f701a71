import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer as onnxLayer } from "@danlu/backend-onnx"
import { resolveTrainConfig, type TrainConfig } from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { type TrainRunEvent, train } from "@danlu/dataset"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { microArchitecture, writeCheckpoint, writeSquares } from "./trainFixtures.js"

let root = ""

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-train-families-"))
  await writeSquares(join(root, "train"), 2, 2)
})

const written = new Set<string>()

const run = async (family: "sd2" | "sdxl", overrides: Partial<TrainConfig>, name: string = family) => {
  const model = join(root, `micro-${family}.safetensors`)
  if (!written.has(model)) await writeCheckpoint(model, microArchitecture(family))
  written.add(model)
  const out = join(root, name)
  const events: Array<TrainRunEvent> = []
  const result = await Effect.runPromise(
    Effect.scoped(
      train(
        resolveTrainConfig({
          pretrainedModelNameOrPath: model,
          trainDataDir: join(root, "train"),
          outputDir: out,
          outputName: family,
          resolution: { width: 16, height: 16 },
          networkDim: 4,
          networkAlpha: 2,
          learningRate: 1e-3,
          trainBatchSize: 2,
          maxTrainEpochs: 1,
          seed: 1,
          captionExtension: ".txt",
          ...overrides,
        }),
        { emit: (e) => events.push(e), stopRequested: () => false },
      ),
    ).pipe(Effect.provide(onnxLayer)),
  )
  const file = await Effect.runPromise(
    Effect.scoped(
      Effect.map(openModelFile(result.finalPath!), (f) => ({
        metadata: f.metadata,
        names: f.tensors.map((t) => t.name),
      })),
    ),
  )
  return { ...file, events }
}

const modules = (names: ReadonlyArray<string>) =>
  [...new Set(names.map((name) => name.split(".")[0]!))].sort()

describe("train: SD2 and SDXL (library, ONNX Runtime)", () => {
  it("SD2 with v_parameterization: sd-scripts' names without the text encoder's last layer, v2 metadata", async () => {
    const { metadata, names, events } = await run("sd2", { v2: true, vParameterization: true })
    expect(events.find((e) => e.type === "model")).toMatchObject({ family: "sd2", prediction: "v" })
    expect(events.filter((e) => e.type === "step")).toHaveLength(2)
    const te = modules(names).filter((m) => m.startsWith("lora_te_"))
    expect(te).toContain("lora_te_text_model_encoder_layers_0_self_attn_q_proj")
    expect(te.every((m) => m.startsWith("lora_te_text_model_encoder_layers_0_"))).toBe(true)
    expect(modules(names)).toContain("lora_unet_down_blocks_0_attentions_0_proj_in")
    expect(metadata).toMatchObject({
      ss_base_model_version: "sd_v2_v",
      ss_v2: "True",
      "modelspec.architecture": "stable-diffusion-v2-768-v/lora",
    })
  }, 120_000)

  it("SDXL: ldm UNet names and lora_te1_/lora_te2_, SDXL metadata", async () => {
    const { metadata, names, events } = await run("sdxl", {})
    expect(events.find((e) => e.type === "model")).toMatchObject({ family: "sdxl", prediction: "epsilon" })
    const all = modules(names)
    const unet = all.filter((m) => m.startsWith("lora_unet_"))
    expect(unet).toContain("lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q")
    expect(unet).toContain("lora_unet_middle_block_1_transformer_blocks_0_ff_net_2")
    expect(unet.every((m) => /^lora_unet_(input_blocks|middle_block|output_blocks)_/.test(m))).toBe(true)
    expect(all.some((m) => m.startsWith("lora_te1_text_model_encoder_layers_0_"))).toBe(true)
    expect(all.some((m) => m.startsWith("lora_te2_text_model_encoder_layers_0_"))).toBe(true)
    expect(all.some((m) => m.startsWith("lora_te_"))).toBe(false)
    // The same first step from cached text-encoder outputs (the text LoRA starts at zero, so it agrees).
    const cached = await run(
      "sdxl",
      { cacheTextEncoderOutputs: true, networkTrainUnetOnly: true },
      "sdxl-cached",
    )
    expect(cached.events.find((e) => e.type === "captions")).toEqual({ type: "captions", encoded: 1 })
    const firstLoss = (list: ReadonlyArray<TrainRunEvent>) =>
      list.flatMap((e) => (e.type === "step" ? [e.loss] : []))[0]!
    expect(firstLoss(cached.events)).toBeCloseTo(firstLoss(events), 4)
    expect(metadata).toMatchObject({
      ss_base_model_version: "sdxl_base_v1-0",
      ss_v2: "False",
      "modelspec.architecture": "stable-diffusion-xl-v1-base/lora",
    })
  }, 120_000)
})
