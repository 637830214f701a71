import type { DType } from "@danlu/core"
import { header, paramsBinding } from "../wgsl.js"

/** A GEMM kernel's operands: how to read A(m, k) and B(k, n) and where C(m, n) goes, per batch. */
export interface GemmShader {
  readonly dtypes: ReadonlyArray<DType>
  /** Buffer declarations at bindings 0…n-1; params are bound at n. */
  readonly bindings: string
  readonly bindingCount: number
  /**
   * WGSL defining `prepare(batch: u32)` (run once per workgroup, may set `var<private>` state),
   * `load_a(m: u32, k: u32) -> f32`, `load_b(k: u32, n: u32) -> f32` and `store_c(m: u32, n: u32, v: f32)`.
   * Loads are only called in range. Params 0…2 are M, N, K; the rest are the operands' own.
   */
  readonly operands: string
}

/** Output tile edge, threads per edge, reduction slice and outputs per thread per edge. */
export const gemmTile = 64
const threadsPerEdge = 16
const sliceK = 16
const perThread = gemmTile / threadsPerEdge

/**
 * Tiled, register-blocked GEMM: a 16×16 workgroup computes a 64×64 tile of C, each thread a 4×4 block
 * of it (rows ty + 16i, columns tx + 16j, so neighbouring threads touch neighbouring addresses), over
 * 16-deep slices of K staged in workgroup memory. Accumulates in f32. Batches run along z.
 */
export const gemmSource = (shader: GemmShader): string => {
  const lines: Array<string> = [header(shader.dtypes), shader.bindings, paramsBinding(shader.bindingCount)]
  lines.push(shader.operands)
  lines.push(`var<workgroup> tile_a: array<f32, ${gemmTile * sliceK}>;`)
  lines.push(`var<workgroup> tile_b: array<f32, ${gemmTile * sliceK}>;`)
  lines.push(`@compute @workgroup_size(${threadsPerEdge}, ${threadsPerEdge})`)
  lines.push("fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {")
  lines.push("  let size_m = params[0]; let size_n = params[1]; let size_k = params[2];")
  lines.push(`  prepare(wid.z);`)
  lines.push(`  let row0 = wid.y * ${gemmTile}u; let col0 = wid.x * ${gemmTile}u;`)
  lines.push(`  let t = lid.y * ${threadsPerEdge}u + lid.x;`)
  lines.push(`  var acc: array<f32, ${perThread * perThread}>;`)
  lines.push(`  for (var k0 = 0u; k0 < size_k; k0 += ${sliceK}u) {`)
  const loads = (gemmTile * sliceK) / (threadsPerEdge * threadsPerEdge)
  lines.push(`    for (var l = 0u; l < ${loads}u; l++) {`)
  lines.push(`      let e = t + l * ${threadsPerEdge * threadsPerEdge}u;`)
  lines.push(`      let am = row0 + e / ${sliceK}u; let ak = k0 + e % ${sliceK}u;`)
  lines.push("      var a = 0.0; if (am < size_m && ak < size_k) { a = load_a(am, ak); }")
  lines.push(`      tile_a[(e % ${sliceK}u) * ${gemmTile}u + e / ${sliceK}u] = a;`)
  lines.push(`      let bk = k0 + e / ${gemmTile}u; let bn = col0 + e % ${gemmTile}u;`)
  lines.push("      var b = 0.0; if (bk < size_k && bn < size_n) { b = load_b(bk, bn); }")
  lines.push("      tile_b[e] = b;")
  lines.push("    }")
  lines.push("    workgroupBarrier();")
  lines.push(`    for (var kk = 0u; kk < ${sliceK}u; kk++) {`)
  for (let i = 0; i < perThread; i++) {
    lines.push(`      let a${i} = tile_a[kk * ${gemmTile}u + lid.y + ${i * threadsPerEdge}u];`)
    lines.push(`      let b${i} = tile_b[kk * ${gemmTile}u + lid.x + ${i * threadsPerEdge}u];`)
  }
  for (let i = 0; i < perThread; i++) {
    for (let j = 0; j < perThread; j++) {
      const at = i * perThread + j
      lines.push(`      acc[${at}] = fma(a${i}, b${j}, acc[${at}]);`)
    }
  }
  lines.push("    }")
  lines.push("    workgroupBarrier();")
  lines.push("  }")
  for (let i = 0; i < perThread; i++) {
    for (let j = 0; j < perThread; j++) {
      lines.push(
        `  { let m = row0 + lid.y + ${i * threadsPerEdge}u; let n = col0 + lid.x + ${j * threadsPerEdge}u; if (m < size_m && n < size_n) { store_c(m, n, acc[${i * perThread + j}]); } }`,
      )
    }
  }
  lines.push("}")
  return lines.join("\n")
}

/** Workgroups covering an M×N output for `batches` batches. */
export const gemmWorkgroups = (m: number, n: number, batches: number): [number, number, number] => [
  Math.ceil(n / gemmTile),
  Math.ceil(m / gemmTile),
  batches,
]
