import type { ConvAttrs, Shape } from "@danlu/core"

/**
 * The geometry every convolution kernel reads from params[3…]: batch, channels, input size, output
 * channels, output size, kernel size, stride, padding, dilation and groups, in this order.
 */
export const convGeometryParams = (x: Shape, w: Shape, y: Shape, attrs: ConvAttrs): Array<number> => {
  const [n, c, h, wd] = x as [number, number, number, number]
  const [o, , kh, kw] = w as [number, number, number, number]
  const [, , ho, wo] = y as [number, number, number, number]
  return [n, c, h, wd, o, ho, wo, kh, kw, ...attrs.stride, ...attrs.padding, ...attrs.dilation, attrs.groups]
}

/** WGSL names for the geometry params (as u32 and, where signed math needs it, i32). */
export const convGeometryWgsl = `
fn g_batch() -> u32 { return params[3]; }
fn g_channels() -> u32 { return params[4]; }
fn g_height() -> u32 { return params[5]; }
fn g_width() -> u32 { return params[6]; }
fn g_out_channels() -> u32 { return params[7]; }
fn g_out_height() -> u32 { return params[8]; }
fn g_out_width() -> u32 { return params[9]; }
fn g_kernel_h() -> u32 { return params[10]; }
fn g_kernel_w() -> u32 { return params[11]; }
fn g_stride() -> vec2i { return vec2i(i32(params[12]), i32(params[13])); }
fn g_padding() -> vec2i { return vec2i(i32(params[14]), i32(params[15])); }
fn g_dilation() -> vec2i { return vec2i(i32(params[16]), i32(params[17])); }
fn g_groups() -> u32 { return params[18]; }
fn g_group_channels() -> u32 { return params[4] / params[18]; }
fn g_group_out_channels() -> u32 { return params[7] / params[18]; }
`
