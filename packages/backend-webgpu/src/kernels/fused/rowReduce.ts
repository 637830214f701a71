/** Threads per workgroup of the row kernels (softmax, norms): one workgroup per row. */
export const rowWorkgroupSize = 64

/**
 * WGSL: `row_sum(v, lid)` and `row_max(v, lid)` combine one f32 per thread across the workgroup and
 * hand every thread the result. Called in uniform control flow only.
 */
export const rowReduceFunctions = `
var<workgroup> row_scratch: array<f32, ${rowWorkgroupSize}>;
fn row_sum(v: f32, lid: u32) -> f32 {
  row_scratch[lid] = v;
  workgroupBarrier();
  for (var stride = ${rowWorkgroupSize / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { row_scratch[lid] = row_scratch[lid] + row_scratch[lid + stride]; }
    workgroupBarrier();
  }
  let total = row_scratch[0];
  workgroupBarrier();
  return total;
}
fn row_max(v: f32, lid: u32) -> f32 {
  row_scratch[lid] = v;
  workgroupBarrier();
  for (var stride = ${rowWorkgroupSize / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { row_scratch[lid] = max(row_scratch[lid], row_scratch[lid + stride]); }
    workgroupBarrier();
  }
  let total = row_scratch[0];
  workgroupBarrier();
  return total;
}
`
