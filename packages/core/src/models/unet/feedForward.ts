import { geglu } from "../../composites/activations.js"
import { linear } from "../../nn/linear.js"
import type { WeightScope } from "../../nn/weightScope.js"
import type { Tensor } from "../../tensor/tensor.js"

/**
 * LDM `FeedForward(dim, mult=4, glu=True)`: `net.0.proj` projects to 2·4·dim, GEGLU keeps
 * `hidden · gelu(gate)` (hidden the first half, exact-erf GELU), `net.2` projects back (`net.1` is dropout).
 */
export const feedForward = (scope: WeightScope, x: Tensor, dim: number): Tensor => {
  const inner = 4 * dim
  const projected = linear(scope.at("net", 0, "proj"), x, { inFeatures: dim, outFeatures: 2 * inner })
  return linear(scope.at("net", 2), geglu(projected), { inFeatures: inner, outFeatures: dim })
}
