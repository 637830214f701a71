import type { DType } from "@danlu/core"
import { decodeIndex } from "../dims.js"
import { header, negativeInfinityFunction, paramF32, paramsBinding, storageType } from "../wgsl.js"

export interface AttentionShader {
  readonly dtype: DType
  readonly head: number
  readonly valueHead: number
  readonly keysPerTile: number
  readonly batchRank: number
  readonly masked: boolean
}

export const attentionRowsPerWorkgroup = 64

/**
 * Attention without a score matrix: each thread owns one query row and streams the keys and values
 * through workgroup memory a tile at a time, keeping a running max, a running sum and a rescaled
 * output (online softmax), so memory stays O(L·D) at any sequence length. All in f32.
 * Params: Lq, Lk, scale, mask strides along Lq and Lk, the batch sizes, then the batch strides of
 * k, v and the mask (zero where broadcast).
 */
export const attentionSource = (shader: AttentionShader): string => {
  const { head, valueHead, keysPerTile, batchRank, masked } = shader
  const t = storageType(shader.dtype)
  const rows = attentionRowsPerWorkgroup
  const sizesAt = 5
  return `${header([shader.dtype])}
@group(0) @binding(0) var<storage, read_write> out: array<${t}>;
@group(0) @binding(1) var<storage, read> q: array<${t}>;
@group(0) @binding(2) var<storage, read> k: array<${t}>;
@group(0) @binding(3) var<storage, read> v: array<${t}>;
${masked ? `@group(0) @binding(4) var<storage, read> mask: array<${t}>;\n` : ""}${paramsBinding(masked ? 5 : 4)}
${negativeInfinityFunction}
const HEAD: u32 = ${head}u;
const VALUE_HEAD: u32 = ${valueHead}u;
const TILE: u32 = ${keysPerTile}u;
var<workgroup> tile_k: array<f32, ${keysPerTile * head}>;
var<workgroup> tile_v: array<f32, ${keysPerTile * valueHead}>;
@compute @workgroup_size(${rows})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let lq = params[0]; let lk = params[1];
  let batch = wid.y;
  var pk = 0u; var pv = 0u; var pm = 0u;
${decodeIndex("batch", batchRank, sizesAt, [
  { variable: "pk", stridesAt: sizesAt + batchRank },
  { variable: "pv", stridesAt: sizesAt + 2 * batchRank },
  { variable: "pm", stridesAt: sizesAt + 3 * batchRank },
])}
  let row = wid.x * ${rows}u + lid;
  let qrow = min(row, lq - 1u);
  let scale = ${paramF32(2)};
  var query: array<f32, ${head}>;
  for (var d = 0u; d < HEAD; d++) { query[d] = f32(q[(batch * lq + qrow) * HEAD + d]) * scale; }
  var acc: array<f32, ${valueHead}>;
  let minus_infinity = negative_infinity();
  var running_max = minus_infinity;
  var running_sum = 0.0;
  for (var k0 = 0u; k0 < lk; k0 += TILE) {
    for (var e = lid; e < TILE * HEAD; e += ${rows}u) {
      let j = k0 + e / HEAD;
      var value = 0.0;
      if (j < lk) { value = f32(k[pk + j * HEAD + e % HEAD]); }
      tile_k[e] = value;
    }
    for (var e = lid; e < TILE * VALUE_HEAD; e += ${rows}u) {
      let j = k0 + e / VALUE_HEAD;
      var value = 0.0;
      if (j < lk) { value = f32(v[pv + j * VALUE_HEAD + e % VALUE_HEAD]); }
      tile_v[e] = value;
    }
    workgroupBarrier();
    let count = min(TILE, lk - k0);
    for (var j = 0u; j < count; j++) {
      var s = 0.0;
      for (var d = 0u; d < HEAD; d++) { s = fma(query[d], tile_k[j * HEAD + d], s); }
${masked ? "      s += f32(mask[pm + qrow * params[3] + (k0 + j) * params[4]]);\n" : ""}      let next_max = max(running_max, s);
      if (next_max == minus_infinity) { continue; }
      let correction = exp(running_max - next_max);
      let p = exp(s - next_max);
      running_sum = running_sum * correction + p;
      for (var d = 0u; d < VALUE_HEAD; d++) { acc[d] = fma(p, tile_v[j * VALUE_HEAD + d], acc[d] * correction); }
      running_max = next_max;
    }
    workgroupBarrier();
  }
  if (row < lq) {
    for (var d = 0u; d < VALUE_HEAD; d++) { out[(batch * lq + row) * VALUE_HEAD + d] = ${t}(acc[d] / running_sum); }
  }
}
`
}
