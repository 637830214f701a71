import type { DType } from "@danlu/core"
import {
  computeType,
  flatWorkgroupIndex,
  header,
  linearWorkgroupSize,
  nanMaxFunction,
  negativeInfinityFunction,
  paramsBinding,
  spreadBuiltins,
  storageType,
} from "../wgsl.js"

export interface ReduceShader {
  readonly op: "sum" | "max"
  readonly dtype: DType
  readonly keptRank: number
  readonly reducedRank: number
  /** One workgroup per output (long reductions) or one thread per output (short ones, many outputs). */
  readonly perOutput: "workgroup" | "thread"
}

export const reduceWorkgroupSize = 64

const identity = (op: "sum" | "max", dtype: DType): string => {
  const t = computeType(dtype)
  if (op === "sum") return `${t}(0)`
  if (t === "f32") return "negative_infinity()"
  return t === "i32" ? "i32(-2147483648)" : "0u"
}

const combine = (op: "sum" | "max", dtype: DType, a: string, b: string): string =>
  op === "sum" ? `${a} + ${b}` : computeType(dtype) === "f32" ? `nan_max(${a}, ${b})` : `max(${a}, ${b})`

/**
 * Reduces the input over some dims, accumulating in f32 for floats. Params: output count, reduced
 * count, the kept dims' sizes and input strides, then the reduced dims' sizes and input strides.
 */
export const reduceSource = (shader: ReduceShader): string => {
  const { op, dtype, keptRank, reducedRank } = shader
  const t = computeType(dtype)
  const keptBase = 2
  const reducedBase = keptBase + 2 * keptRank
  const lines: Array<string> = [header([dtype])]
  lines.push(`@group(0) @binding(0) var<storage, read_write> out: array<${storageType(dtype)}>;`)
  lines.push(`@group(0) @binding(1) var<storage, read> x: array<${storageType(dtype)}>;`)
  lines.push(paramsBinding(2))
  lines.push(nanMaxFunction, negativeInfinityFunction)
  lines.push("fn kept_offset(o: u32) -> u32 {\n  var rest = o; var p = 0u;")
  for (let d = keptRank - 1; d >= 0; d--) {
    lines.push(
      `  { let size = params[${keptBase + d}u]; p += (rest % size) * params[${keptBase + keptRank + d}u]; rest = rest / size; }`,
    )
  }
  lines.push("  return p;\n}")
  lines.push("fn reduced_offset(r: u32) -> u32 {\n  var rest = r; var p = 0u;")
  for (let d = reducedRank - 1; d >= 0; d--) {
    lines.push(
      `  { let size = params[${reducedBase + d}u]; p += (rest % size) * params[${reducedBase + reducedRank + d}u]; rest = rest / size; }`,
    )
  }
  lines.push("  return p;\n}")
  if (shader.perOutput === "thread") {
    lines.push(`@compute @workgroup_size(${linearWorkgroupSize})`)
    lines.push(`fn main(${spreadBuiltins}) {`)
    lines.push(`  let o = ${flatWorkgroupIndex} * ${linearWorkgroupSize}u + lid;`)
    lines.push("  if (o >= params[0]) { return; }")
    lines.push(`  let base = kept_offset(o); var acc = ${identity(op, dtype)};`)
    lines.push(
      `  for (var r = 0u; r < params[1]; r++) { let v = ${t}(x[base + reduced_offset(r)]); acc = ${combine(op, dtype, "acc", "v")}; }`,
    )
    lines.push(`  out[o] = ${storageType(dtype)}(acc);\n}`)
    return lines.join("\n")
  }
  const n = reduceWorkgroupSize
  lines.push(`var<workgroup> partial: array<${t}, ${n}>;`)
  lines.push(`@compute @workgroup_size(${n})`)
  lines.push(`fn main(${spreadBuiltins}) {`)
  lines.push(`  let o = ${flatWorkgroupIndex};`)
  lines.push(`  let base = kept_offset(o); var acc = ${identity(op, dtype)};`)
  lines.push(
    `  for (var r = lid; r < params[1]; r += ${n}u) { let v = ${t}(x[base + reduced_offset(r)]); acc = ${combine(op, dtype, "acc", "v")}; }`,
  )
  lines.push("  partial[lid] = acc;\n  workgroupBarrier();")
  lines.push(`  for (var stride = ${n / 2}u; stride > 0u; stride = stride / 2u) {`)
  lines.push(
    `    if (lid < stride) { partial[lid] = ${combine(op, dtype, "partial[lid]", "partial[lid + stride]")}; }`,
  )
  lines.push("    workgroupBarrier();\n  }")
  lines.push(`  if (lid == 0u) { out[o] = ${storageType(dtype)}(partial[0]); }\n}`)
  return lines.join("\n")
}
