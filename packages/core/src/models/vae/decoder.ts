import { silu } from "../../composites/activations.js"
import { conv2d } from "../../nn/conv2d.js"
import { groupNorm } from "../../nn/groupNorm.js"
import { upsample } from "../../nn/resample.js"
import type { WeightScope } from "../../nn/weightScope.js"
import type { Tensor } from "../../tensor/tensor.js"
import { vaeAttnBlock } from "./attnBlock.js"
import type { VaeConfig } from "./config.js"
import { vaeResnetBlock } from "./resnetBlock.js"

/**
 * LDM `Decoder` (model.py): `z [B, zChannels, h, w]` → image. `up.{i}` is stored lowest resolution last
 * (`insert(0)`), so the loop runs `up.{n-1}` first.
 */
export const vaeDecoder = (scope: WeightScope, config: VaeConfig, z: Tensor): Tensor => {
  const { channels: ch, channelMult, normGroups: groups } = config
  let width = ch * channelMult[channelMult.length - 1]!
  let h = conv2d(scope.at("conv_in"), z, {
    inChannels: config.zChannels,
    outChannels: width,
    kernel: 3,
    padding: 1,
  })
  const mid = scope.at("mid")
  h = vaeResnetBlock(mid.at("block_1"), h, width, width, groups)
  h = vaeAttnBlock(mid.at("attn_1"), h, width, groups)
  h = vaeResnetBlock(mid.at("block_2"), h, width, width, groups)
  for (let level = channelMult.length - 1; level >= 0; level--) {
    const up = scope.at("up", level)
    const out = ch * channelMult[level]!
    for (let j = 0; j <= config.numResBlocks; j++) {
      h = vaeResnetBlock(up.at("block", j), h, width, out, groups)
      width = out
    }
    if (level !== 0) h = upsample(up.at("upsample"), h, width)
  }
  h = silu(groupNorm(scope.at("norm_out"), h, { channels: width, groups, eps: 1e-6 }))
  return conv2d(scope.at("conv_out"), h, {
    inChannels: width,
    outChannels: config.outChannels,
    kernel: 3,
    padding: 1,
  })
}
