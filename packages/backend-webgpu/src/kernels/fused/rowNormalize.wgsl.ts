import type { DType } from "@danlu/core"
import { flatWorkgroupIndex, header, paramF32, paramsBinding, spreadBuiltins, storageType } from "../wgsl.js"
import { rowReduceFunctions, rowWorkgroupSize } from "./rowReduce.js"

export interface RowNormalizeShape {
  /** WGSL lines after `row`, `size` and `base` are known (e.g. where a group's channels start). */
  readonly setup: string
  /** WGSL expression: the weight/bias index of element `j` of the row. */
  readonly channel: string
  /** Index of the f32 eps among the params. */
  readonly epsParam: number
}

/**
 * Normalizes contiguous rows in f32, one workgroup per row: the mean, then the variance of the centred
 * values (two passes, no cancellation), then a per-channel scale and shift. Layer and group norm are
 * this kernel with different rows and channel maps. Params[1] is the row size.
 */
export const rowNormalizeSource = (dtype: DType, shape: RowNormalizeShape): string => `${header([dtype])}
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
  ${shape.setup}
  var s = 0.0;
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) { s += f32(x[base + j]); }
  let mean = row_sum(s, lid) / f32(size);
  var q = 0.0;
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) { let d = f32(x[base + j]) - mean; q += d * d; }
  let rstd = 1.0 / sqrt(row_sum(q, lid) / f32(size) + ${paramF32(shape.epsParam)});
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) {
    let c = ${shape.channel};
    let v = (f32(x[base + j]) - mean) * rstd * f32(weight[c]) + f32(bias[c]);
    y[base + j] = ${storageType(dtype)}(v);
  }
}
`
