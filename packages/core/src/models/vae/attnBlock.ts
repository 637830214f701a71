import { attention } from "../../composites/attention.js"
import { conv2d } from "../../nn/conv2d.js"
import { groupNorm } from "../../nn/groupNorm.js"
import type { WeightScope } from "../../nn/weightScope.js"
import { add } from "../../ops/elementwise.js"
import { permute, reshape } from "../../ops/movement.js"
import type { Tensor } from "../../tensor/tensor.js"

/**
 * LDM VAE `AttnBlock` (the mid block's `attn_1`): GroupNorm(eps 1e-6), 1×1 conv `q`, `k`, `v`, one head over
 * all H·W positions with scale `C^-0.5`, 1×1 `proj_out`, plus the input.
 */
export const vaeAttnBlock = (scope: WeightScope, x: Tensor, channels: number, groups: number): Tensor => {
  const [b, c, h, w] = x.shape as [number, number, number, number]
  const normed = groupNorm(scope.at("norm"), x, { channels, groups, eps: 1e-6 })
  const project = (name: string): Tensor =>
    conv2d(scope.at(name), normed, { inChannels: channels, outChannels: channels, kernel: 1 })
  const tokens = (t: Tensor): Tensor => permute(reshape(t, [b, c, h * w]), [0, 2, 1])
  const attended = attention(tokens(project("q")), tokens(project("k")), tokens(project("v")))
  const image = reshape(permute(attended, [0, 2, 1]), [b, c, h, w])
  return add(
    x,
    conv2d(scope.at("proj_out"), image, { inChannels: channels, outChannels: channels, kernel: 1 }),
  )
}
