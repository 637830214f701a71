import { upsampleNearest } from "../ops/linalg.js"
import { pad } from "../ops/movement.js"
import type { Tensor } from "../tensor/tensor.js"
import { conv2d } from "./conv2d.js"
import type { WeightScope } from "./weightScope.js"

/** LDM `Upsample`: nearest ×2, then a 3×3 conv (`conv`), channels kept. */
export const upsample = (scope: WeightScope, x: Tensor, channels: number): Tensor =>
  conv2d(scope.at("conv"), upsampleNearest(x, 2), {
    inChannels: channels,
    outChannels: channels,
    kernel: 3,
    padding: 1,
  })

/** The UNet's `Downsample`: a 3×3 conv with stride 2 and padding 1 (`op`). */
export const downsample = (scope: WeightScope, x: Tensor, channels: number): Tensor =>
  conv2d(scope.at("op").alias("conv"), x, {
    inChannels: channels,
    outChannels: channels,
    kernel: 3,
    stride: 2,
    padding: 1,
  })

/** The VAE's `Downsample`: zero-pad right and bottom by one, then a 3×3 conv with stride 2, no padding (`conv`). */
export const downsampleAsymmetric = (scope: WeightScope, x: Tensor, channels: number): Tensor =>
  conv2d(scope.at("conv"), pad(x, [0, 0, 0, 0], [0, 0, 1, 1]), {
    inChannels: channels,
    outChannels: channels,
    kernel: 3,
    stride: 2,
  })
