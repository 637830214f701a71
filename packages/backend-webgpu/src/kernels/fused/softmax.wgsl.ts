import type { DType } from "@danlu/core"
import {
  flatWorkgroupIndex,
  header,
  negativeInfinityFunction,
  paramsBinding,
  spreadBuiltins,
  storageType,
} from "../wgsl.js"
import { rowReduceFunctions, rowWorkgroupSize } from "./rowReduce.js"

/**
 * Softmax over the middle dim of [outer, L, inner], one workgroup per (outer, inner) row, in f32:
 * max, then the sum of exponentials, then the quotients. Params: rows, L, inner.
 */
export const softmaxSource = (dtype: DType): string => `${header([dtype])}
@group(0) @binding(0) var<storage, read_write> y: array<${storageType(dtype)}>;
@group(0) @binding(1) var<storage, read> x: array<${storageType(dtype)}>;
${paramsBinding(2)}
${rowReduceFunctions}
${negativeInfinityFunction}
@compute @workgroup_size(${rowWorkgroupSize})
fn main(${spreadBuiltins}) {
  let row = ${flatWorkgroupIndex};
  let size = params[1]; let inner = params[2];
  let base = (row / inner) * size * inner + row % inner;
  var m = negative_infinity();
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) { m = max(m, f32(x[base + j * inner])); }
  m = row_max(m, lid);
  var s = 0.0;
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) { s += exp(f32(x[base + j * inner]) - m); }
  s = row_sum(s, lid);
  for (var j = lid; j < size; j += ${rowWorkgroupSize}u) {
    y[base + j * inner] = ${storageType(dtype)}(exp(f32(x[base + j * inner]) - m) / s);
  }
}
`
