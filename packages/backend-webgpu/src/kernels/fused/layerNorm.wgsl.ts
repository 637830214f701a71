import type { DType } from "@danlu/core"
import { flatWorkgroupIndex, header, paramF32, paramsBinding, spreadBuiltins, storageType } from "../wgsl.js"
import { rowReduceFunctions, rowWorkgroupSize } from "./rowReduce.js"

/**
 * Layer norm over the last dim, one workgroup per row, in f32: the mean, then the variance of the
 * centred values (two passes, no cancellation), then scale and shift. Params: rows, D, eps.
 */
export const layerNormSource = (dtype: DType): string => `${header([dtype])}
@group(0) @binding(0) var<storage, read_write> y: array<${storageType(dtype)}>;
@group(0) @binding(1) var<storage, read> x: array<${storageType(dtype)}>;
@group(0) @binding(2) var<storage, read> weight: array<${storageType(dtype)}>;
@group(0) @binding(3) var<storage, read> bias: array<${storageType(dtype)}>;
${paramsBinding(4)}
${rowReduceFunctions}
@compute @workgroup_size(${rowWorkgroupSize})
fn main(${spreadBuiltins}) {
  let row = ${flatWorkgroupIndex};
  let size = params[1];
  let base = row * size;
  var s = 0.0;
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) { s += f32(x[base + j]); }
  let mean = row_sum(s, lid) / f32(size);
  var q = 0.0;
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) { let d = f32(x[base + j]) - mean; q += d * d; }
  let rstd = 1.0 / sqrt(row_sum(q, lid) / f32(size) + ${paramF32(2)});
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) {
    let v = (f32(x[base + j]) - mean) * rstd * f32(weight[j]) + f32(bias[j]);
    y[base + j] = ${storageType(dtype)}(v);
  }
}
`
