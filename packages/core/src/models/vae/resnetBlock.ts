import { silu } from "../../composites/activations.js"
import { conv2d } from "../../nn/conv2d.js"
import { groupNorm } from "../../nn/groupNorm.js"
import type { WeightScope } from "../../nn/weightScope.js"
import { add } from "../../ops/elementwise.js"
import type { Tensor } from "../../tensor/tensor.js"

/**
 * LDM VAE `ResnetBlock` (model.py, no time embedding): GroupNorm(eps 1e-6) → swish → `conv1` → GroupNorm →
 * swish → `conv2`, plus the input (through the 1×1 `nin_shortcut` when the width changes).
 */
export const vaeResnetBlock = (
  scope: WeightScope,
  x: Tensor,
  inChannels: number,
  outChannels: number,
  groups: number,
): Tensor => {
  let h: Tensor = silu(groupNorm(scope.at("norm1"), x, { channels: inChannels, groups, eps: 1e-6 }))
  h = conv2d(scope.at("conv1"), h, { inChannels, outChannels, kernel: 3, padding: 1 })
  h = silu(groupNorm(scope.at("norm2"), h, { channels: outChannels, groups, eps: 1e-6 }))
  h = conv2d(scope.at("conv2"), h, { inChannels: outChannels, outChannels, kernel: 3, padding: 1 })
  const skip =
    inChannels === outChannels
      ? x
      : conv2d(scope.at("nin_shortcut"), x, { inChannels, outChannels, kernel: 1 })
  return add(skip, h)
}
