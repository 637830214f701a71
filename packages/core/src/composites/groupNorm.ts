import { requireFloat, sameDType, shapeError } from "../ops/check.js"
import { add, mul } from "../ops/elementwise.js"
import { reshape } from "../ops/movement.js"
import { record, type Tensor } from "../tensor/tensor.js"
import { normalizeLastDim } from "./layerNorm.js"

/** Group normalization of `[N C …]` over groups of channels, with per-channel scale and shift. */
export const groupNorm = (
  x: Tensor,
  groups: number,
  weight: Tensor,
  bias: Tensor,
  eps = 1e-5,
): Tensor<"groupNorm"> => {
  sameDType("groupNorm", [x, weight, bias])
  requireFloat("groupNorm", x)
  const c = x.shape[1]
  if (x.rank < 2 || c === undefined || c % groups !== 0) {
    shapeError("groupNorm", `needs [N C …] with C divisible by ${groups} groups`, x.shape)
  }
  if (weight.rank !== 1 || weight.shape[0] !== c || bias.rank !== 1 || bias.shape[0] !== c) {
    shapeError("groupNorm", "weight and bias must be [C]", x.shape, weight.shape, bias.shape)
  }
  return record("groupNorm", [x, weight, bias], { groups, eps }, x.shape, x.dtype)
}

/** The per-channel `[1 C 1 …]` view of a `[C]` vector, for broadcasting against `[N C …]`. */
export const channelView = (v: Tensor, rank: number): Tensor =>
  reshape(v, [1, v.shape[0]!, ...new Array(rank - 2).fill(1)])

/** Normalizes `[N C …]` per (sample, group) without the affine part. */
export const normalizeGroups = (x: Tensor, groups: number, eps: number): Tensor => {
  const grouped = reshape(x, [x.shape[0]!, groups, -1])
  return reshape(normalizeLastDim(grouped, eps), x.shape)
}

export const decomposeGroupNorm = (
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  groups: number,
  eps: number,
): Tensor => add(mul(normalizeGroups(x, groups, eps), channelView(weight, x.rank)), channelView(bias, x.rank))
