import { checkpoint } from "../../autodiff/checkpoint.js"
import { silu } from "../../composites/activations.js"
import { conv2d } from "../../nn/conv2d.js"
import { groupNorm } from "../../nn/groupNorm.js"
import { linear } from "../../nn/linear.js"
import { downsample, upsample } from "../../nn/resample.js"
import { timestepEmbedding } from "../../nn/timestepEmbedding.js"
import type { WeightScope } from "../../nn/weightScope.js"
import { cast } from "../../ops/cast.js"
import { shapeError } from "../../ops/check.js"
import { add } from "../../ops/elementwise.js"
import { concat } from "../../ops/movement.js"
import type { Tensor } from "../../tensor/tensor.js"
import type { ModelBuildOptions } from "../buildOptions.js"
import { familyFromContextDim } from "../detect/baseVersion.js"
import { headsFor, type UNetConfig } from "./config.js"
import { resBlock } from "./resBlock.js"
import { spatialTransformer } from "./spatialTransformer.js"

/** The checkpoint prefix of the UNet in LDM/SGM single-file checkpoints. */
export const unetPrefix = "model.diffusion_model"

export interface UNetInputs {
  /** Noisy latents `[B, C, H, W]`. */
  readonly x: Tensor
  /** DDPM timesteps `[B]` (float; fractional allowed). */
  readonly timesteps: Tensor
  /** Text conditioning `[B, L, contextDim]`. */
  readonly context: Tensor
  /** SDXL's extra conditioning vector `[B, admInChannels]` (pooled text + size embeddings). */
  readonly y?: Tensor
}

/**
 * LDM/SGM `UNetModel.forward` (openaimodel.py). `scope` is the UNet root (`model.diffusion_model`): every
 * weight is asked for by its LDM key, and each block is aliased to its diffusers name so LoRA files in
 * either naming find it. Input blocks push their outputs on a stack that the output blocks pop.
 */
export const unet = (
  scope: WeightScope,
  config: UNetConfig,
  inputs: UNetInputs,
  options: ModelBuildOptions = {},
): Tensor => {
  // An SGM UNet (SDXL's, with label_emb) is SDXL-family even at test sizes.
  const family =
    familyFromContextDim(config.contextDim) ?? (config.admInChannels === undefined ? undefined : "sdxl")
  const root = (family === undefined ? scope : scope.family(family)).component("unet")
  const block = <const Xs extends ReadonlyArray<Tensor>>(xs: Xs, f: (...xs: Xs) => Tensor): Tensor =>
    options.gradientCheckpointing ? checkpoint(xs, f) : f(...xs)
  const mc = config.modelChannels
  const embedChannels = 4 * mc
  const groups = config.normGroups
  const levels = config.channelMult.length
  const perLevel = config.numResBlocks + 1

  let emb = linear(
    root.at("time_embed", 0).alias("time_embedding.linear_1"),
    cast(timestepEmbedding(inputs.timesteps, mc), inputs.x.dtype),
    {
      inFeatures: mc,
      outFeatures: embedChannels,
    },
  )
  emb = linear(root.at("time_embed", 2).alias("time_embedding.linear_2"), silu(emb), {
    inFeatures: embedChannels,
    outFeatures: embedChannels,
  })
  if (config.admInChannels !== undefined) {
    if (!inputs.y)
      shapeError("unet", `this UNet needs the conditioning vector y [B, ${config.admInChannels}]`)
    let y = linear(root.at("label_emb", 0, 0).alias("add_embedding.linear_1"), inputs.y!, {
      inFeatures: config.admInChannels,
      outFeatures: embedChannels,
    })
    y = linear(root.at("label_emb", 0, 2).alias("add_embedding.linear_2"), silu(y), {
      inFeatures: embedChannels,
      outFeatures: embedChannels,
    })
    emb = add(emb, y)
  }

  const attends = (level: number): boolean => config.attentionResolutions.includes(2 ** level)
  const transformer = (at: WeightScope, h: Tensor, channels: number, depth: number): Tensor =>
    block([h, inputs.context], (x, context) =>
      spatialTransformer(at, x, context, {
        channels,
        ...headsFor(config, channels),
        depth,
        contextDim: config.contextDim,
        linear: config.useLinearInTransformer,
        groups,
      }),
    )

  let h = conv2d(root.at("input_blocks", 0, 0).alias("conv_in"), inputs.x, {
    inChannels: config.inChannels,
    outChannels: mc,
    kernel: 3,
    padding: 1,
  })
  const skips: Array<Tensor> = [h]
  let channels = mc
  for (let level = 0; level < levels; level++) {
    const out = mc * config.channelMult[level]!
    for (let j = 0; j < config.numResBlocks; j++) {
      const index = 1 + level * perLevel + j
      const at = root.at("input_blocks", index, 0).alias(`down_blocks.${level}.resnets.${j}`)
      const inChannels = channels
      h = block([h, emb], (x, e) =>
        resBlock(at, x, e, { inChannels, outChannels: out, embedChannels, groups }),
      )
      channels = out
      if (attends(level)) {
        h = transformer(
          root.at("input_blocks", index, 1).alias(`down_blocks.${level}.attentions.${j}`),
          h,
          channels,
          config.transformerDepth[level]!,
        )
      }
      skips.push(h)
    }
    if (level !== levels - 1) {
      const at = root
        .at("input_blocks", (level + 1) * perLevel, 0)
        .alias(`down_blocks.${level}.downsamplers.0`)
      h = downsample(at.within("Downsample2D"), h, channels)
      skips.push(h)
    }
  }

  const res = (at: WeightScope, x: Tensor, inChannels: number, outChannels: number): Tensor =>
    block([x, emb], (h, e) => resBlock(at, h, e, { inChannels, outChannels, embedChannels, groups }))
  h = res(root.at("middle_block", 0).alias("mid_block.resnets.0"), h, channels, channels)
  h = transformer(
    root.at("middle_block", 1).alias("mid_block.attentions.0"),
    h,
    channels,
    config.transformerDepthMiddle,
  )
  h = res(root.at("middle_block", 2).alias("mid_block.resnets.1"), h, channels, channels)

  for (let level = levels - 1; level >= 0; level--) {
    const up = levels - 1 - level
    const out = mc * config.channelMult[level]!
    for (let j = 0; j <= config.numResBlocks; j++) {
      const index = up * perLevel + j
      const skip = skips.pop()!
      h = res(
        root.at("output_blocks", index, 0).alias(`up_blocks.${up}.resnets.${j}`),
        concat([h, skip], 1),
        channels + skip.shape[1]!,
        out,
      )
      channels = out
      let next = 1
      if (attends(level)) {
        h = transformer(
          root.at("output_blocks", index, 1).alias(`up_blocks.${up}.attentions.${j}`),
          h,
          channels,
          config.transformerDepth[level]!,
        )
        next = 2
      }
      if (level !== 0 && j === config.numResBlocks) {
        h = upsample(
          root.at("output_blocks", index, next).alias(`up_blocks.${up}.upsamplers.0`).within("Upsample2D"),
          h,
          channels,
        )
      }
    }
  }

  h = silu(groupNorm(root.at("out", 0).alias("conv_norm_out"), h, { channels, groups }))
  return conv2d(root.at("out", 2).alias("conv_out"), h, {
    inChannels: channels,
    outChannels: config.outChannels,
    kernel: 3,
    padding: 1,
  })
}
