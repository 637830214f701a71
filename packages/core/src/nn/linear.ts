import { add } from "../ops/elementwise.js"
import { matmul } from "../ops/linalg.js"
import { transpose } from "../ops/movement.js"
import type { Tensor } from "../tensor/tensor.js"
import type { WeightScope } from "./weightScope.js"

export interface LinearOptions {
  readonly inFeatures: number
  readonly outFeatures: number
  /** torch's default: true */
  readonly bias?: boolean
}

/** `torch.nn.Linear`: `x·Wᵀ + b` over the last dim, weights `weight [out, in]` and `bias [out]`. */
export const linear = (scope: WeightScope, x: Tensor, options: LinearOptions): Tensor => {
  const { inFeatures, outFeatures } = options
  const weight = scope.weight("weight", [outFeatures, inFeatures])
  const product = matmul(x, transpose(weight))
  const y = options.bias === false ? product : add(product, scope.weight("bias", [outFeatures]))
  return scope.adapt(
    { kind: "linear", inFeatures, outFeatures, kernel: [1, 1], stride: [1, 1], padding: [0, 0] },
    x,
    y,
  )
}
