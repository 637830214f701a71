import type { DType } from "@danlu/core"
import { storageType } from "../wgsl.js"
import { convGeometryWgsl } from "./convGeometry.js"
import { gemmSource } from "./gemm.wgsl.js"

/**
 * dw as an implicit GEMM per group: M = group output channels, N = group channels × kernel taps,
 * K = batch × output pixels. A is dy, B the transposed im2col matrix of x.
 */
export const conv2dBackwardWeightSource = (dtype: DType): string => {
  const t = storageType(dtype)
  return gemmSource({
    dtypes: [dtype],
    bindingCount: 3,
    bindings: `@group(0) @binding(0) var<storage, read_write> dw: array<${t}>;
@group(0) @binding(1) var<storage, read> x: array<${t}>;
@group(0) @binding(2) var<storage, read> dy: array<${t}>;`,
    operands: `${convGeometryWgsl}
var<private> grp: u32;
fn prepare(batch: u32) { grp = batch; }
fn load_a(m: u32, k: u32) -> f32 {
  let pixels = g_out_height() * g_out_width();
  let b = k / pixels; let p = k % pixels;
  return f32(dy[(b * g_out_channels() + grp * g_group_out_channels() + m) * pixels + p]);
}
fn load_b(k: u32, n: u32) -> f32 {
  let taps = g_kernel_h() * g_kernel_w();
  let c = n / taps; let tap = n % taps;
  let ky = i32(tap / g_kernel_w()); let kx = i32(tap % g_kernel_w());
  let pixels = g_out_height() * g_out_width();
  let b = k / pixels; let p = k % pixels;
  let iy = i32(p / g_out_width()) * g_stride().x - g_padding().x + ky * g_dilation().x;
  let ix = i32(p % g_out_width()) * g_stride().y - g_padding().y + kx * g_dilation().y;
  if (iy < 0 || ix < 0 || iy >= i32(g_height()) || ix >= i32(g_width())) { return 0.0; }
  let ci = grp * g_group_channels() + c;
  return f32(x[((b * g_channels() + ci) * g_height() + u32(iy)) * g_width() + u32(ix)]);
}
fn store_c(m: u32, n: u32, v: f32) {
  dw[(grp * g_group_out_channels() + m) * params[1] + n] = ${t}(v);
}
`,
  })
}
