import type { DType } from "@danlu/core"
import { decodeIndex } from "../dims.js"
import { storageType } from "../wgsl.js"
import { gemmSource } from "./gemm.wgsl.js"

/**
 * Batched matmul of contiguous [… M K] × [… K N] with broadcast batch dims. Params after M, N, K: the
 * output's batch sizes, then A's and B's batch strides (elements, zero where broadcast).
 */
export const matmulSource = (dtype: DType, batchRank: number): string => {
  const t = storageType(dtype)
  return gemmSource({
    dtypes: [dtype],
    bindingCount: 3,
    bindings: `@group(0) @binding(0) var<storage, read_write> c: array<${t}>;
@group(0) @binding(1) var<storage, read> a: array<${t}>;
@group(0) @binding(2) var<storage, read> b: array<${t}>;`,
    operands: `var<private> base_a: u32;
var<private> base_b: u32;
var<private> base_c: u32;
fn prepare(batch: u32) {
  var pa = 0u; var pb = 0u;
${decodeIndex("batch", batchRank, 3, [
  { variable: "pa", stridesAt: 3 + batchRank },
  { variable: "pb", stridesAt: 3 + 2 * batchRank },
])}
  base_a = pa; base_b = pb; base_c = batch * params[0] * params[1];
}
fn load_a(m: u32, k: u32) -> f32 { return f32(a[base_a + m * params[2] + k]); }
fn load_b(k: u32, n: u32) -> f32 { return f32(b[base_b + k * params[1] + n]); }
fn store_c(m: u32, n: u32, v: f32) { c[base_c + m * params[1] + n] = ${t}(v); }
`,
  })
}
