import { record, type Tensor } from "../tensor/tensor.js"
import { dtypeError, shapeError } from "./check.js"

/** Rows of `table` picked by `indices`: `[V, …rest]` and `[…idx]` give `[…idx, …rest]` (embedding lookup). */
export const gather = (table: Tensor, indices: Tensor): Tensor<"gather"> => {
  if (indices.dtype !== "i32" && indices.dtype !== "u32")
    dtypeError("gather", "indices must be i32 or u32", indices.dtype)
  if (table.rank < 1) shapeError("gather", "the table needs rank ≥ 1", table.shape)
  return record("gather", [table, indices], {}, [...indices.shape, ...table.shape.slice(1)], table.dtype)
}
