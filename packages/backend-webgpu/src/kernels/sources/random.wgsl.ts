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
 * Philox4x32-10 exactly as core's contract (packages/core/src/random/philox.ts): thread t computes
 * block t, counter [t, offsetLo, offsetHi, 0], key [seedLo, seedHi], and writes elements 4t…4t+3.
 * Uniform: ((x >> 9) + 0.5)·2^-23, exact in f32. Normal: Box-Muller on lanes (0,1) and (2,3).
 * Params: element count.
 */
export const randomSource = (dtype: DType, distribution: "uniform" | "normal"): string => `${header([dtype])}
@group(0) @binding(0) var<storage, read_write> out: array<${storageType(dtype)}>;
@group(0) @binding(1) var<storage, read> key: array<u32>;
${paramsBinding(2)}
fn mul_high(a: u32, b: u32) -> u32 {
  let a_lo = a & 0xffffu; let a_hi = a >> 16u; let b_lo = b & 0xffffu; let b_hi = b >> 16u;
  let lo_lo = a_lo * b_lo; let lo_hi = a_lo * b_hi; let hi_lo = a_hi * b_lo;
  let carry = (lo_lo >> 16u) + (lo_hi & 0xffffu) + (hi_lo & 0xffffu);
  return a_hi * b_hi + (lo_hi >> 16u) + (hi_lo >> 16u) + (carry >> 16u);
}
fn philox(counter: vec4u, seed: vec2u) -> vec4u {
  var c = counter; var k = seed;
  for (var r = 0u; r < 10u; r++) {
    if (r > 0u) { k = k + vec2u(0x9E3779B9u, 0xBB67AE85u); }
    let hi0 = mul_high(0xD2511F53u, c.x); let lo0 = 0xD2511F53u * c.x;
    let hi1 = mul_high(0xCD9E8D57u, c.z); let lo1 = 0xCD9E8D57u * c.z;
    c = vec4u(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
  }
  return c;
}
fn uniform01(x: u32) -> f32 { return (f32(x >> 9u) + 0.5) * 1.1920928955078125e-7; }
fn store(i: u32, v: f32) { if (i < params[0]) { out[i] = ${storageType(dtype)}(v); } }
@compute @workgroup_size(${linearWorkgroupSize})
fn main(${spreadBuiltins}) {
  let block = ${flatWorkgroupIndex} * ${linearWorkgroupSize}u + lid;
  let first = block * 4u;
  if (first >= params[0]) { return; }
  let x = philox(vec4u(block, key[2], key[3], 0u), vec2u(key[0], key[1]));
${
  distribution === "uniform"
    ? "  store(first, uniform01(x.x)); store(first + 1u, uniform01(x.y)); store(first + 2u, uniform01(x.z)); store(first + 3u, uniform01(x.w));"
    : `  let r0 = sqrt(-2.0 * log(uniform01(x.x))); let a0 = 6.283185307179586 * uniform01(x.y);
  let r1 = sqrt(-2.0 * log(uniform01(x.z))); let a1 = 6.283185307179586 * uniform01(x.w);
  store(first, r0 * cos(a0)); store(first + 1u, r0 * sin(a0)); store(first + 2u, r1 * cos(a1)); store(first + 3u, r1 * sin(a1));`
}
}
`
