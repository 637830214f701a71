import type { Shape } from "../../tensor/shape.js"
import { type BaseFamily, familyFromContextDim } from "./baseVersion.js"

/** Key naming of a UNet: the original LDM/SGM names or diffusers names. */
export type UNetNaming = "ldm" | "diffusers"

/** What a UNet's keys and shapes say about its configuration (ComfyUI's `detect_unet_config` reads the same). */
export interface UNetSignature {
  readonly modelChannels: number
  readonly inChannels: number
  readonly contextDim: number | undefined
  /** Linear proj_in/proj_out (SD2, SDXL) instead of 1x1 convolutions (SD1). */
  readonly linearProjection: boolean | undefined
  /** Width of the extra conditioning vector (SDXL 2816, refiner 2560); undefined when there is none. */
  readonly admInChannels: number | undefined
  readonly family: BaseFamily | undefined
  /** 4 = text-to-image, 9 = inpainting, 8 = instruct-pix2pix. */
  readonly variant: "standard" | "inpainting" | "instruct-pix2pix" | "other"
}

const crossAttentionKey = /transformer_blocks\.0\.attn2\.to_k\.weight$/
const projInKey = /\.proj_in\.weight$/

/** Reads a UNet's signature from its tensor shapes (names without the UNet prefix). Undefined if there is no conv_in. */
export const unetSignature = (
  shapes: ReadonlyMap<string, Shape>,
  naming: UNetNaming,
): UNetSignature | undefined => {
  const convIn = shapes.get(naming === "ldm" ? "input_blocks.0.0.weight" : "conv_in.weight")
  if (convIn === undefined || convIn.length !== 4) return undefined
  let contextDim: number | undefined
  let linearProjection: boolean | undefined
  for (const [name, shape] of shapes) {
    if (contextDim === undefined && crossAttentionKey.test(name)) contextDim = shape[1]
    if (linearProjection === undefined && projInKey.test(name)) linearProjection = shape.length === 2
  }
  const adm = shapes.get(naming === "ldm" ? "label_emb.0.0.weight" : "add_embedding.linear_1.weight")
  const modelChannels = convIn[0]!
  const inChannels = convIn[1]!
  const admInChannels = adm?.[1]
  const byContext = contextDim === undefined ? undefined : familyFromContextDim(contextDim)
  const family =
    byContext === "sd1" && modelChannels === 320 && linearProjection === false && admInChannels === undefined
      ? "sd1"
      : byContext === "sd2" &&
          modelChannels === 320 &&
          linearProjection === true &&
          admInChannels === undefined
        ? "sd2"
        : byContext === "sdxl" && modelChannels === 320 && admInChannels === 2816
          ? "sdxl"
          : byContext === "sdxl-refiner" && modelChannels === 384 && admInChannels === 2560
            ? "sdxl-refiner"
            : undefined
  const variant =
    inChannels === 4
      ? "standard"
      : inChannels === 9
        ? "inpainting"
        : inChannels === 8
          ? "instruct-pix2pix"
          : "other"
  return { modelChannels, inChannels, contextDim, linearProjection, admInChannels, family, variant }
}
