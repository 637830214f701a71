import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import {
  type CheckpointInfo,
  ensureLoraMatchesBase,
  inspectLora,
  inspectTensorFile,
  ModelMismatch,
  memorySink,
  memorySource,
  openSafetensors,
  type StoredTensor,
  type TensorInfo,
  tensorByteLength,
  tensorsInMemory,
  writeSafetensors,
} from "../../src/io/index.js"
import { toF16Bits } from "../../src/tensor/halfFloat.js"
import { kohyaSd15LoraLayout } from "../fixtures/sdLayouts.js"

/** A LoRA file in memory: zero weights, alphas set to `alpha`. */
const loraFile = (tensors: ReadonlyArray<TensorInfo>, metadata: Record<string, string> = {}, alpha = 4) => {
  const stored: Record<string, StoredTensor> = {}
  for (const info of tensors) {
    const bytes = new Uint8Array(tensorByteLength(info))
    if (info.name.endsWith(".alpha")) {
      if (info.dtype === "F16") new DataView(bytes.buffer).setUint16(0, toF16Bits(alpha), true)
      else new DataView(bytes.buffer).setFloat32(0, alpha, true)
    }
    stored[info.name] = { ...info, bytes }
  }
  const sink = memorySink()
  Effect.runSync(writeSafetensors(sink, tensorsInMemory(stored, metadata)))
  return Effect.runSync(openSafetensors(memorySource(sink.bytes(), "lora.safetensors")))
}

const module = (
  name: string,
  down: Array<number>,
  up: Array<number>,
  dtype: "F16" | "F32" = "F32",
): Array<TensorInfo> => [
  { name: `${name}.lora_down.weight`, dtype, shape: down },
  { name: `${name}.lora_up.weight`, dtype, shape: up },
  { name: `${name}.alpha`, dtype, shape: [] },
]

describe("LoRA inspection", () => {
  it("reads a full kohya SD 1.5 LoRA: 264 modules, rank, alpha, family from shapes and metadata", async () => {
    const file = loraFile(
      kohyaSd15LoraLayout(16),
      {
        ss_network_module: "networks.lora",
        ss_base_model_version: "sd_v1",
        ss_network_dim: "16",
        ss_network_alpha: "8",
      },
      8,
    )
    const inspection = await Effect.runPromise(inspectTensorFile(file))
    expect(inspection.kind).toBe("lora")
    if (inspection.kind !== "lora") return
    const info = inspection.lora
    expect(info.keyStyle).toBe("kohya")
    expect(info.algorithm).toBe("lora")
    expect(info.modules).toBe(264)
    expect(info.modulesByComponent).toEqual({ unet: 192, text_encoder: 72 })
    expect(info.linearRanks).toEqual([16])
    expect(info.convRanks).toEqual([])
    expect(info.alphas).toEqual([8])
    expect(info.family).toBe("sd1")
    expect(info.familyBasis).toMatch(/768-wide/)
    expect(info.notes).toEqual([])
    expect(info.metadata.ss_network_dim).toBe("16")
  })

  it("recognises a LoCon (3x3 conv modules with their own rank)", async () => {
    const tensors = [
      ...module("lora_unet_down_blocks_0_resnets_0_conv1", [4, 320, 3, 3], [320, 4, 1, 1]),
      ...module("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k", [8, 768], [320, 8]),
    ]
    const info = await Effect.runPromise(
      inspectLora(loraFile(tensors, { ss_network_module: "lycoris.kohya" })),
    )
    expect(info.algorithm).toBe("locon")
    expect(info.convModules).toBe(1)
    expect(info.convRanks).toEqual([4])
    expect(info.linearRanks).toEqual([8])
    expect(info.networkModule).toBe("lycoris.kohya")
  })

  it("identifies an SDXL kohya LoRA (lora_te1/lora_te2, sgm UNet names)", async () => {
    const tensors = [
      ...module("lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k", [8, 2048], [640, 8]),
      ...module("lora_te1_text_model_encoder_layers_0_self_attn_q_proj", [8, 768], [768, 8]),
      ...module("lora_te2_text_model_encoder_layers_0_self_attn_q_proj", [8, 1280], [1280, 8]),
    ]
    const info = await Effect.runPromise(inspectLora(loraFile(tensors)))
    expect(info.family).toBe("sdxl")
    expect(info.modulesByComponent).toEqual({ unet: 1, text_encoder: 1, text_encoder_2: 1 })
  })

  it("reads a diffusers/PEFT LoRA (lora_A/lora_B, no alpha) and an SD2 one from its context width", async () => {
    const info = await Effect.runPromise(
      inspectLora(
        loraFile([
          {
            name: "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight",
            dtype: "F32",
            shape: [4, 1024],
          },
          {
            name: "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight",
            dtype: "F32",
            shape: [320, 4],
          },
          {
            name: "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight",
            dtype: "F32",
            shape: [4, 1024],
          },
          {
            name: "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight",
            dtype: "F32",
            shape: [1024, 4],
          },
        ]),
      ),
    )
    expect(info.keyStyle).toBe("diffusers-peft")
    expect(info.family).toBe("sd2")
    expect(info.alphas).toEqual([])
    expect(info.linearRanks).toEqual([4])
    expect(info.modulesByComponent).toEqual({ unet: 1, text_encoder: 1 })
  })

  it("falls back to metadata when shapes are inconclusive, and notes a disagreement", async () => {
    const ambiguous = module("lora_unet_down_blocks_0_attentions_0_proj_out", [4, 320], [320, 4])
    const fromMeta = await Effect.runPromise(
      inspectLora(loraFile(ambiguous, { "modelspec.architecture": "stable-diffusion-v2-768-v/lora" })),
    )
    expect(fromMeta.family).toBe("sd2")
    expect(fromMeta.prediction).toBe("v")
    expect(fromMeta.familyBasis).toMatch(/modelspec/)
    const unknown = await Effect.runPromise(inspectLora(loraFile(ambiguous)))
    expect(unknown.family).toBeUndefined()
    const conflict = await Effect.runPromise(
      inspectLora(loraFile(kohyaSd15LoraLayout(4), { ss_base_model_version: "sdxl_base_v1-0" })),
    )
    expect(conflict.family).toBe("sd1")
    expect(conflict.notes.join()).toMatch(/says SDXL but the shapes say SD 1.x/)
  })
})

describe("ensureLoraMatchesBase", () => {
  const base = (family: CheckpointInfo["family"]) => ({ name: "base.safetensors", info: { family } })
  it("refuses a LoRA for another family, naming both versions", () => {
    const exit = Effect.runSyncExit(
      ensureLoraMatchesBase({ name: "style.safetensors", info: { family: "sd1" } }, base("sdxl")),
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? (exit.cause.reasons[0] as { error: unknown }).error : undefined
    expect(error).toBeInstanceOf(ModelMismatch)
    expect((error as ModelMismatch).message).toBe(
      "style.safetensors is a LoRA for SD 1.x but base.safetensors is SDXL; use a LoRA made for SDXL, or a base model of the SD 1.x family",
    )
  })
  it("accepts matching families and cannot refuse when a family is unknown", () => {
    expect(
      Exit.isSuccess(
        Effect.runSyncExit(ensureLoraMatchesBase({ name: "a", info: { family: "sd2" } }, base("sd2"))),
      ),
    ).toBe(true)
    expect(
      Exit.isSuccess(
        Effect.runSyncExit(ensureLoraMatchesBase({ name: "a", info: { family: undefined } }, base("sd2"))),
      ),
    ).toBe(true)
  })
})
