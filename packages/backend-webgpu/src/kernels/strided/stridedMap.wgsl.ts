import type { DType } from "@danlu/core"
import {
  computeType,
  flatWorkgroupIndex,
  header,
  linearWorkgroupSize,
  paramsBinding,
  spreadBuiltins,
  storageType,
} from "../wgsl.js"

export interface StridedMapShader {
  readonly rank: number
  readonly out: DType
  readonly inputs: ReadonlyArray<DType>
  /** The value stored, from `v0`, `v1`, … (each in its compute type) and `param(i)`. */
  readonly expression: string
  /** WGSL functions the expression calls. */
  readonly functions: string
}

/**
 * One thread per element of an iteration space of `rank` dims. Params: count, the sizes, then for the
 * output and each input an offset and `rank` strides (elements), then the float parameters. Each
 * thread turns its flat index into coordinates once and walks every operand's strides with them, so
 * broadcasting, transposes, slices, padding and concatenation are all this one kernel.
 */
export const stridedMapSource = (shader: StridedMapShader): string => {
  const { rank, inputs } = shader
  const operands = inputs.length + 1
  const base = (operand: number) => 1 + rank + operand * (rank + 1)
  const paramBase = base(operands)
  const lines: Array<string> = [header([shader.out, ...inputs])]
  lines.push(`@group(0) @binding(0) var<storage, read_write> out: array<${storageType(shader.out)}>;`)
  inputs.forEach((dtype, i) => {
    const element = dtype === "bf16" ? "u32" : storageType(dtype)
    lines.push(`@group(0) @binding(${i + 1}) var<storage, read> in${i}: array<${element}>;`)
  })
  lines.push(paramsBinding(operands))
  lines.push(`fn param(i: u32) -> f32 { return bitcast<f32>(params[${paramBase}u + i]); }`)
  lines.push(shader.functions)
  lines.push(`@compute @workgroup_size(${linearWorkgroupSize})`)
  lines.push(`fn main(${spreadBuiltins}) {`)
  lines.push(`  let i = ${flatWorkgroupIndex} * ${linearWorkgroupSize}u + lid;`)
  lines.push("  if (i >= params[0]) { return; }")
  lines.push("  var rest = i;")
  for (let o = 0; o < operands; o++) lines.push(`  var p${o} = params[${base(o)}u];`)
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(`  { let size = params[${1 + d}u]; let c = rest % size; rest = rest / size;`)
    for (let o = 0; o < operands; o++) lines.push(`    p${o} += c * params[${base(o) + 1 + d}u];`)
    lines.push("  }")
  }
  inputs.forEach((dtype, i) => {
    const p = `p${i + 1}`
    // WGSL has no bf16: two of them share a u32 (element 2k in the low half), and a bf16 is the top
    // half of an f32, so reading one is a shift or a mask and a bitcast.
    lines.push(
      dtype === "bf16"
        ? `  let w${i} = in${i}[${p} / 2u]; let v${i} = bitcast<f32>(select(w${i} << 16u, w${i} & 0xffff0000u, (${p} & 1u) == 1u));`
        : `  let v${i} = ${computeType(dtype)}(in${i}[${p}]);`,
    )
  })
  lines.push(`  out[p0] = ${storageType(shader.out)}(${shader.expression});`)
  lines.push("}")
  return lines.join("\n")
}
