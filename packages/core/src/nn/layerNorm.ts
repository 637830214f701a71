import { layerNorm as normalize } from "../composites/layerNorm.js"
import type { Tensor } from "../tensor/tensor.js"
import type { WeightScope } from "./weightScope.js"

/** `torch.nn.LayerNorm(dim)` over the last dim with `weight [dim]`, `bias [dim]` (eps 1e-5, torch's default). */
export const layerNorm = (scope: WeightScope, x: Tensor, dim: number, eps = 1e-5): Tensor =>
  normalize(x, scope.weight("weight", [dim]), scope.weight("bias", [dim]), eps)
