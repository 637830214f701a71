import type { DType } from "@danlu/core"
import { flatWorkgroupIndex, header, paramF32, paramsBinding, spreadBuiltins, storageType } from "../wgsl.js"
import { rowReduceFunctions, rowWorkgroupSize } from "./rowReduce.js"

/**
 * Group norm of [N C …], one workgroup per (sample, group), whose channels are contiguous: mean, then
 * variance of the centred values, then each channel's scale and shift, all in f32.
 * Params: N·groups, group size (C/groups · spatial), spatial size, channels per group, groups, eps.
 */
export const groupNormSource = (dtype: DType): string => `${header([dtype])}
@group(0) @binding(0) var<storage, read_write> y: array<${storageType(dtype)}>;
@group(0) @binding(1) var<storage, read> x: array<${storageType(dtype)}>;
@group(0) @binding(2) var<storage, read> weight: array<${storageType(dtype)}>;
@group(0) @binding(3) var<storage, read> bias: array<${storageType(dtype)}>;
${paramsBinding(4)}
${rowReduceFunctions}
@compute @workgroup_size(${rowWorkgroupSize})
fn main(${spreadBuiltins}) {
  let row = ${flatWorkgroupIndex};
  let size = params[1]; let spatial = params[2];
  let first_channel = (row % params[4]) * params[3];
  let base = row * size;
  var s = 0.0;
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) { s += f32(x[base + j]); }
  let mean = row_sum(s, lid) / f32(size);
  var q = 0.0;
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) { let d = f32(x[base + j]) - mean; q += d * d; }
  let rstd = 1.0 / sqrt(row_sum(q, lid) / f32(size) + ${paramF32(5)});
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) {
    let c = first_channel + j / spatial;
    let v = (f32(x[base + j]) - mean) * rstd * f32(weight[c]) + f32(bias[c]);
    y[base + j] = ${storageType(dtype)}(v);
  }
}
`
