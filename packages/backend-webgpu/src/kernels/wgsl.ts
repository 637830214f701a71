import type { DType } from "@danlu/core"

/** The WGSL element type a dtype is stored as (`bool` as u32, 0 or 1). */
export const storageType = (dtype: DType): string => {
  switch (dtype) {
    case "f32":
    case "f16":
    case "i32":
    case "u32":
      return dtype
    case "bool":
      return "u32"
    case "bf16":
      throw new Error("bf16 has no WGSL type; cast to f16 or f32 before running on WebGPU")
  }
}

/** The type a dtype is computed in: every float in f32 (16-bit values are rounded once, on store). */
export const computeType = (dtype: DType): string =>
  dtype === "f32" || dtype === "f16" ? "f32" : storageType(dtype)

/** `enable f16;` when any of the dtypes is f16. */
export const header = (dtypes: ReadonlyArray<DType>): string =>
  dtypes.includes("f16") ? "enable f16;\n" : ""

/** The bits of a number as an f32, for passing float parameters in a u32 meta buffer. */
export const f32Bits = (value: number): number => new Uint32Array(Float32Array.of(value).buffer)[0]!

/** Threads per workgroup of the one-thread-per-element kernels. */
export const linearWorkgroupSize = 256

const maxWorkgroupsPerDimension = 65535

/** Workgroup counts covering `groups` workgroups, folded into y past the per-dimension limit. */
export const spreadWorkgroups = (groups: number): [number, number, number] => {
  if (groups <= maxWorkgroupsPerDimension) return [groups, 1, 1]
  const y = Math.ceil(groups / maxWorkgroupsPerDimension)
  return [Math.ceil(groups / y), y, 1]
}

export const linearWorkgroups = (count: number): [number, number, number] =>
  spreadWorkgroups(Math.ceil(count / linearWorkgroupSize))

/** The flat workgroup index of a dispatch made by `spreadWorkgroups`. */
export const flatWorkgroupIndex = "(wid.y * nwg.x + wid.x)"

/** The builtins every spread dispatch takes. */
export const spreadBuiltins =
  "@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32"

/** The sizes-and-strides buffer at binding `binding` (`meta` is a reserved word in WGSL). */
export const paramsBinding = (binding: number): string =>
  `@group(0) @binding(${binding}) var<storage, read> params: array<u32>;\n`

/** A float parameter stored at params[i]. */
export const paramF32 = (index: string | number): string => `bitcast<f32>(params[${index}])`

/**
 * erf in f32: the Taylor series near zero (keeps the relative error small there) and Numerical Recipes'
 * erfc (fractional error < 1.2e-7) elsewhere. WGSL has no erf.
 */
export const erfFunction = `
fn erf_f32(x: f32) -> f32 {
  let z = abs(x);
  if (z < 0.5) {
    let x2 = x * x;
    return 1.1283791670955126 * x * (1.0 + x2 * (-0.3333333333333333 + x2 * (0.1 + x2 * (-0.023809523809523808 + x2 * (0.004629629629629629 + x2 * -0.0007575757575757576)))));
  }
  let t = 1.0 / (1.0 + 0.5 * z);
  let erfc = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return sign(x) * (1.0 - erfc);
}
`

/** max that returns NaN when either side is NaN, as the reference does (WGSL's max leaves it open). */
export const nanMaxFunction = `
fn is_nan_f32(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn nan_max(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, is_nan_f32(a) || is_nan_f32(b)); }
`

/**
 * -∞ as an f32. WGSL rejects infinities in constant expressions, so the bits are combined with a params
 * word (times zero) to make the value a runtime one.
 */
export const negativeInfinityFunction = `
fn negative_infinity() -> f32 { return bitcast<f32>(0xff800000u | (params[0] & 0u)); }
`
