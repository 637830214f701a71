import { add } from "../ops/elementwise.js"
import { matmul } from "../ops/linalg.js"
import { sliceAxis, transpose } from "../ops/movement.js"
import type { Tensor } from "../tensor/tensor.js"
import type { WeightScope } from "./weightScope.js"

/**
 * The fused q/k/v input projection of `torch.nn.MultiheadAttention` (`in_proj_weight [3D, D]`,
 * `in_proj_bias [3D]`), computed as three linears on row blocks so that each is its own layer for LoRA,
 * named `q_proj`, `k_proj`, `v_proj` as transformers names the split weights.
 */
export const inProjection = (scope: WeightScope, x: Tensor, dim: number): [Tensor, Tensor, Tensor] => {
  const weight = scope.weight("in_proj_weight", [3 * dim, dim])
  const bias = scope.weight("in_proj_bias", [3 * dim])
  const project = (part: number, name: string): Tensor => {
    const rows: readonly [number, number] = [part * dim, (part + 1) * dim]
    const y = add(
      matmul(x, transpose(sliceAxis(weight, 0, rows[0], rows[1]))),
      sliceAxis(bias, 0, rows[0], rows[1]),
    )
    return scope.part(name).adapt(
      {
        kind: "linear",
        inFeatures: dim,
        outFeatures: dim,
        kernel: [1, 1],
        stride: [1, 1],
        padding: [0, 0],
        weightName: "in_proj_weight",
        weightRows: rows,
      },
      x,
      y,
    )
  }
  return [project(0, "q_proj"), project(1, "k_proj"), project(2, "v_proj")]
}
