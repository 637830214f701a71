import { add } from "../ops/elementwise.js"
import { conv2d as convolve } from "../ops/linalg.js"
import { reshape } from "../ops/movement.js"
import type { Tensor } from "../tensor/tensor.js"
import type { WeightScope } from "./weightScope.js"

export interface Conv2dOptions {
  readonly inChannels: number
  readonly outChannels: number
  readonly kernel: number
  readonly stride?: number
  readonly padding?: number
  /** torch's default: true */
  readonly bias?: boolean
}

/** `torch.nn.Conv2d` on NCHW: `weight [out, in, k, k]`, `bias [out]`. */
export const conv2d = (scope: WeightScope, x: Tensor, options: Conv2dOptions): Tensor => {
  const { inChannels, outChannels, kernel } = options
  const stride = options.stride ?? 1
  const padding = options.padding ?? 0
  const weight = scope.weight("weight", [outChannels, inChannels, kernel, kernel])
  const product = convolve(x, weight, { stride, padding })
  const y =
    options.bias === false
      ? product
      : add(product, reshape(scope.weight("bias", [outChannels]), [1, outChannels, 1, 1]))
  return scope.adapt(
    {
      kind: "conv2d",
      inFeatures: inChannels,
      outFeatures: outChannels,
      kernel: [kernel, kernel],
      stride: [stride, stride],
      padding: [padding, padding],
    },
    x,
    y,
  )
}
