import type { DType } from "@danlu/core"
import { storageType } from "../wgsl.js"
import { convGeometryWgsl } from "./convGeometry.js"
import { gemmSource } from "./gemm.wgsl.js"

/**
 * dx as an implicit GEMM per group: M = group channels, N = batch × input pixels, K = group output
 * channels × kernel taps. B(k, n) is the dy element whose window put tap k on input pixel n, zero where
 * the stride skips that pixel or the window falls outside dy.
 */
export const conv2dBackwardInputSource = (dtype: DType): string => {
  const t = storageType(dtype)
  return gemmSource({
    dtypes: [dtype],
    bindingCount: 3,
    bindings: `@group(0) @binding(0) var<storage, read_write> dx: array<${t}>;
@group(0) @binding(1) var<storage, read> dy: array<${t}>;
@group(0) @binding(2) var<storage, read> w: array<${t}>;`,
    operands: `${convGeometryWgsl}
var<private> grp: u32;
fn prepare(batch: u32) { grp = batch; }
fn load_a(m: u32, k: u32) -> f32 {
  let taps = g_kernel_h() * g_kernel_w();
  let o = k / taps; let tap = k % taps;
  return f32(w[((grp * g_group_out_channels() + o) * g_group_channels() + m) * taps + tap]);
}
fn load_b(k: u32, n: u32) -> f32 {
  let taps = g_kernel_h() * g_kernel_w();
  let o = k / taps; let tap = k % taps;
  let ky = i32(tap / g_kernel_w()); let kx = i32(tap % g_kernel_w());
  let pixels = g_height() * g_width();
  let b = n / pixels; let p = n % pixels;
  let ty = i32(p / g_width()) + g_padding().x - ky * g_dilation().x;
  let tx = i32(p % g_width()) + g_padding().y - kx * g_dilation().y;
  if (ty < 0 || tx < 0 || ty % g_stride().x != 0 || tx % g_stride().y != 0) { return 0.0; }
  let oy = ty / g_stride().x; let ox = tx / g_stride().y;
  if (oy >= i32(g_out_height()) || ox >= i32(g_out_width())) { return 0.0; }
  let oc = grp * g_group_out_channels() + o;
  return f32(dy[((b * g_out_channels() + oc) * g_out_height() + u32(oy)) * g_out_width() + u32(ox)]);
}
fn store_c(m: u32, n: u32, v: f32) {
  let pixels = g_height() * g_width();
  let b = n / pixels; let p = n % pixels;
  dx[(b * g_channels() + grp * g_group_channels() + m) * pixels + p] = ${t}(v);
}
`,
  })
}
