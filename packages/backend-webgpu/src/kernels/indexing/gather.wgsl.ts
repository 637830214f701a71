import type { DType } from "@danlu/core"
import {
  flatWorkgroupIndex,
  header,
  linearWorkgroupSize,
  paramsBinding,
  spreadBuiltins,
  storageType,
} from "../wgsl.js"

/**
 * Rows of a table by index: element i of the output is element i % row of table row indices[i / row].
 * An index outside the table yields zeros (a kernel cannot raise; see the README). Params: output
 * count, row size, table rows.
 */
export const gatherSource = (dtype: DType, indexType: "i32" | "u32"): string => `${header([dtype])}
@group(0) @binding(0) var<storage, read_write> out: array<${storageType(dtype)}>;
@group(0) @binding(1) var<storage, read> table: array<${storageType(dtype)}>;
@group(0) @binding(2) var<storage, read> indices: array<${indexType}>;
${paramsBinding(3)}
@compute @workgroup_size(${linearWorkgroupSize})
fn main(${spreadBuiltins}) {
  let i = ${flatWorkgroupIndex} * ${linearWorkgroupSize}u + lid;
  if (i >= params[0]) { return; }
  let row_size = params[1];
  let row = i32(indices[i / row_size]);
  if (row < 0 || row >= i32(params[2])) { out[i] = ${storageType(dtype)}(0); return; }
  out[i] = table[u32(row) * row_size + i % row_size];
}
`
