import { describe, expect, it } from "vitest"
import { sizeOf } from "../../src/tensor/shape.js"
import { kohyaSd15LoraLayout, sd2Layout, sd15Layout, sdxlLayout } from "../fixtures/sdLayouts.js"

const count = (tensors: ReturnType<typeof sd15Layout>, prefix: string) =>
  tensors
    .filter((t) => t.name.startsWith(prefix) && !t.name.endsWith("position_ids"))
    .reduce((n, t) => n + sizeOf(t.shape), 0)

describe("generated SD layouts match the published parameter counts", () => {
  it("SD 1.5", () => {
    const layout = sd15Layout()
    expect(count(layout, "model.diffusion_model.")).toBe(859_520_964)
    expect(count(layout, "first_stage_model.")).toBe(83_653_863)
    expect(count(layout, "cond_stage_model.")).toBe(123_060_480)
  })
  it("SD 2 and SDXL", () => {
    expect(count(sd2Layout(), "model.diffusion_model.")).toBe(865_910_724)
    // 352,984,064 plus the 1024x1024 text_projection that SD2 checkpoints carry
    expect(count(sd2Layout(), "cond_stage_model.")).toBe(352_984_064 + 1024 * 1024)
    expect(count(sdxlLayout(), "model.diffusion_model.")).toBe(2_567_463_684)
    expect(count(sdxlLayout(), "conditioner.embedders.1.")).toBe(694_659_840)
  })
  it("kohya SD 1.5 LoRA has 192 UNet and 72 text encoder modules", () => {
    const downs = kohyaSd15LoraLayout(8).filter((t) => t.name.endsWith(".lora_down.weight"))
    expect(downs.filter((t) => t.name.startsWith("lora_unet_"))).toHaveLength(192)
    expect(downs.filter((t) => t.name.startsWith("lora_te_"))).toHaveLength(72)
  })
})
