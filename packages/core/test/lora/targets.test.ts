import { describe, expect, test } from "vitest"
import { LoraNetwork } from "../../src/lora/index.js"
import {
  clipL,
  openClipBigG,
  sd1TextConditioning,
  sd2TextConditioning,
  sd15UNet,
  sdxlTextConditioning,
  tinyClipL,
  tinyOpenClip,
  tinySdxlUNet,
  unet,
  unetPrefix,
} from "../../src/models/index.js"
import { WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"

const countBy = (names: ReadonlyArray<string>, prefix: string) =>
  names.filter((n) => n.startsWith(prefix)).length

describe("kohya LoRA targets", () => {
  // Built as graphs, never run: only the layer list matters.
  const network = LoraNetwork.create({ rank: 4, alpha: 1 })
  const scope = WeightScope.root({ adapters: [network.adapter] })
  unet(scope.at(unetPrefix), sd15UNet, {
    x: T.input("x", [1, 4, 8, 8]),
    timesteps: T.input("t", [1]),
    context: T.input("c", [1, 77, 768]),
  })
  sd1TextConditioning(scope, clipL, T.input("tokens", [1, 77], "i32"))
  const names = network.modules().map((m) => m.name)
  const byName = new Map(network.modules().map((m) => [m.name, m]))

  test("SD1.5 has 192 UNet and 72 text-encoder modules, as sd-scripts logs", () => {
    expect(countBy(names, "lora_unet_")).toBe(192)
    expect(countBy(names, "lora_te_")).toBe(72)
    expect(new Set(names).size).toBe(names.length)
  })

  test("names follow kohya: diffusers UNet paths, transformers text-encoder paths", () => {
    expect(names).toContain("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q")
    expect(names).toContain("lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_attn2_to_k")
    expect(names).toContain("lora_unet_mid_block_attentions_0_proj_out")
    expect(names).toContain("lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_ff_net_0_proj")
    expect(names).toContain("lora_te_text_model_encoder_layers_11_mlp_fc2")
    expect(names).toContain("lora_te_text_model_encoder_layers_0_self_attn_out_proj")
    expect(names.some((n) => n.includes("resnets") || n.includes("time_emb"))).toBe(false)
  })

  test("down/up shapes: [r, in] / [out, r] for linears, [r, in, 1, 1] / [out, r, 1, 1] for SD1's 1×1 proj convs", () => {
    const toK = byName.get("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k")!
    expect(toK.downShape).toEqual([4, 768])
    expect(toK.upShape).toEqual([640, 4])
    expect(toK.module.weightKey).toBe(`${unetPrefix}.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight`)
    const projIn = byName.get("lora_unet_up_blocks_3_attentions_0_proj_in")!
    expect(projIn.downShape).toEqual([4, 320, 1, 1])
    expect(projIn.upShape).toEqual([320, 4, 1, 1])
    expect(projIn.module.weightKey).toBe(`${unetPrefix}.output_blocks.9.1.proj_in.weight`)
  })

  test("conv_dim adds res blocks and resamplers (LoCon): 3×3 convs at conv rank", () => {
    const locon = LoraNetwork.create({ rank: 4, alpha: 1, convRank: 2, convAlpha: 1, components: ["unet"] })
    unet(WeightScope.root({ adapters: [locon.adapter] }).at(unetPrefix), sd15UNet, {
      x: T.input("x", [1, 4, 8, 8]),
      timesteps: T.input("t", [1]),
      context: T.input("c", [1, 77, 768]),
    })
    const modules = new Map(locon.modules().map((m) => [m.name, m]))
    // 192 transformer layers + 22 res blocks × (conv1, conv2, time_emb_proj) + 14 conv_shortcut + 3 down- and 3 upsamplers
    expect(modules.size).toBe(192 + 66 + 14 + 6)
    expect(modules.get("lora_unet_down_blocks_0_resnets_0_conv1")!.downShape).toEqual([2, 320, 3, 3])
    expect(modules.get("lora_unet_down_blocks_0_resnets_0_conv1")!.upShape).toEqual([320, 2, 1, 1])
    expect(modules.get("lora_unet_down_blocks_0_resnets_0_time_emb_proj")!.rank).toBe(4)
    expect(modules.get("lora_unet_down_blocks_0_downsamplers_0_conv")!.module.stride).toEqual([2, 2])
    expect(modules.get("lora_unet_up_blocks_0_upsamplers_0_conv")!.module.weightKey).toBe(
      `${unetPrefix}.output_blocks.2.1.conv.weight`,
    )
    expect(modules.get("lora_unet_up_blocks_0_resnets_0_conv_shortcut")!.module.path).toBe(
      "output_blocks.0.0.skip_connection",
    )
  })
})

test("SDXL names: SGM UNet paths, lora_te1 (CLIP-L) and lora_te2 (bigG, q/k/v rows of in_proj)", () => {
  // No unetNaming: an SDXL UNet (SGM, with label_emb) is named as sd-scripts names it.
  const network = LoraNetwork.create({ rank: 2, alpha: 1 })
  const scope = WeightScope.root({ adapters: [network.adapter] })
  unet(scope.at(unetPrefix), tinySdxlUNet, {
    x: T.input("x", [1, 4, 8, 8]),
    timesteps: T.input("t", [1]),
    context: T.input("c", [1, 8, 32]),
    y: T.input("y", [1, 48]),
  })
  sdxlTextConditioning(
    scope,
    { clipL: tinyClipL, bigG: tinyOpenClip },
    T.input("tl", [1, 8], "i32"),
    T.input("tg", [1, 8], "i32"),
    T.input("eos", [1], "i32"),
  )
  const byName = new Map(network.modules().map((m) => [m.name, m]))
  expect(byName.has("lora_unet_input_blocks_4_1_transformer_blocks_1_attn1_to_q")).toBe(true)
  expect(byName.has("lora_unet_middle_block_1_proj_in")).toBe(true)
  expect(byName.has("lora_te1_text_model_encoder_layers_0_self_attn_q_proj")).toBe(true)
  const v = byName.get("lora_te2_text_model_encoder_layers_2_self_attn_v_proj")!
  expect(v.module.weightKey).toBe("conditioner.embedders.1.model.transformer.resblocks.2.attn.in_proj_weight")
  expect(v.module.weightRows).toEqual([64, 96])
  expect(byName.has("lora_te2_text_model_encoder_layers_2_mlp_fc1")).toBe(true)
  expect(byName.get("lora_te2_text_model_encoder_layers_2_mlp_fc1")!.module.path).toBe(
    "transformer.resblocks.2.mlp.c_fc",
  )
  // 3 CLIP-L layers × 6 and 3 bigG layers × 6 (q, k, v from in_proj, out_proj, fc1, fc2)
  expect(countBy([...byName.keys()], "lora_te1_")).toBe(18)
  expect(countBy([...byName.keys()], "lora_te2_")).toBe(18)
})

test("the full-size SDXL text encoders give kohya's 264 text-encoder modules (12·6 + 32·6)", () => {
  const network = LoraNetwork.create({ rank: 2, alpha: 1 })
  sdxlTextConditioning(
    WeightScope.root({ adapters: [network.adapter] }),
    { clipL, bigG: openClipBigG },
    T.input("tl", [1, 77], "i32"),
    T.input("tg", [1, 77], "i32"),
    T.input("eos", [1], "i32"),
  )
  expect(network.modules().length).toBe(264)
})

test("SD2's last text-encoder layer gets no LoRA (SD2 never uses its output; sd-scripts leaves it out)", () => {
  const penultimate = LoraNetwork.create({ rank: 2, alpha: 1 })
  const scope = WeightScope.root({ adapters: [penultimate.adapter] })
  sd2TextConditioning(scope, tinyOpenClip, T.input("t", [1, 8], "i32"))
  const names = penultimate.modules().map((m) => m.name)
  // 3 layers: 0 and 1 get q, k, v, out_proj, fc1, fc2; layer 2 none.
  expect(countBy(names, "lora_te_text_model_encoder_layers_")).toBe(12)
  expect(names.some((n) => n.startsWith("lora_te_text_model_encoder_layers_2_"))).toBe(false)
  // The layer is still in the model's layer list, so older files that adapt it import and merge.
  expect(scope.modules().filter((m) => m.path.startsWith("transformer.resblocks.2.")).length).toBe(6)

  const last = LoraNetwork.create({ rank: 2, alpha: 1 })
  sd2TextConditioning(
    WeightScope.root({ adapters: [last.adapter] }),
    tinyOpenClip,
    T.input("t", [1, 8], "i32"),
    1,
  )
  expect(
    countBy(
      last.modules().map((m) => m.name),
      "lora_te_text_model_encoder_layers_2_",
    ),
  ).toBe(6)
})

test("SD2's OpenCLIP text encoder is named in transformers terms (lora_te_…_q_proj)", () => {
  const network = LoraNetwork.create({ rank: 2, alpha: 1 })
  sd2TextConditioning(
    WeightScope.root({ adapters: [network.adapter] }),
    tinyOpenClip,
    T.input("t", [1, 8], "i32"),
  )
  expect(network.modules().map((m) => m.name)).toContain(
    "lora_te_text_model_encoder_layers_1_self_attn_k_proj",
  )
})
