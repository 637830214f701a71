import { silu } from "../../composites/activations.js"
import { conv2d } from "../../nn/conv2d.js"
import { groupNorm } from "../../nn/groupNorm.js"
import { downsampleAsymmetric } from "../../nn/resample.js"
import type { WeightScope } from "../../nn/weightScope.js"
import type { Tensor } from "../../tensor/tensor.js"
import { vaeAttnBlock } from "./attnBlock.js"
import type { VaeConfig } from "./config.js"
import { vaeResnetBlock } from "./resnetBlock.js"

/** LDM `Encoder` (model.py): image `[B, 3, H, W]` → moments `[B, 2·z, H/f, W/f]` (before `quant_conv`). */
export const vaeEncoder = (scope: WeightScope, config: VaeConfig, x: Tensor): Tensor => {
  const { channels: ch, channelMult, normGroups: groups } = config
  let h = conv2d(scope.at("conv_in"), x, {
    inChannels: config.inChannels,
    outChannels: ch,
    kernel: 3,
    padding: 1,
  })
  let width = ch
  channelMult.forEach((mult, level) => {
    const down = scope.at("down", level)
    for (let j = 0; j < config.numResBlocks; j++) {
      h = vaeResnetBlock(down.at("block", j), h, width, ch * mult, groups)
      width = ch * mult
    }
    if (level !== channelMult.length - 1) h = downsampleAsymmetric(down.at("downsample"), h, width)
  })
  const mid = scope.at("mid")
  h = vaeResnetBlock(mid.at("block_1"), h, width, width, groups)
  h = vaeAttnBlock(mid.at("attn_1"), h, width, groups)
  h = vaeResnetBlock(mid.at("block_2"), h, width, width, groups)
  h = silu(groupNorm(scope.at("norm_out"), h, { channels: width, groups, eps: 1e-6 }))
  return conv2d(scope.at("conv_out"), h, {
    inChannels: width,
    outChannels: 2 * config.zChannels,
    kernel: 3,
    padding: 1,
  })
}
