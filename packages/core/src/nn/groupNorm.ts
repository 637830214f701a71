import { groupNorm as normalize } from "../composites/groupNorm.js"
import type { Tensor } from "../tensor/tensor.js"
import type { WeightScope } from "./weightScope.js"

export interface GroupNormOptions {
  readonly channels: number
  /** SD uses 32 everywhere. */
  readonly groups?: number
  /** torch's default 1e-5 (UNet res blocks); 1e-6 in the VAE and the UNet's spatial transformers. */
  readonly eps?: number
}

/** `torch.nn.GroupNorm` with affine `weight [C]`, `bias [C]`. */
export const groupNorm = (scope: WeightScope, x: Tensor, options: GroupNormOptions): Tensor =>
  normalize(
    x,
    options.groups ?? 32,
    scope.weight("weight", [options.channels]),
    scope.weight("bias", [options.channels]),
    options.eps ?? 1e-5,
  )
