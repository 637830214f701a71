import type { Shape } from "@danlu/core"

/**
 * Drops size-1 dims and merges neighbours that every stride list walks contiguously, so kernels run at
 * the lowest rank that describes the access: fewer index divisions and fewer distinct pipelines.
 */
export const collapseDims = (
  shape: Shape,
  strideLists: ReadonlyArray<ReadonlyArray<number>>,
): { dims: Array<number>; strides: Array<Array<number>> } => {
  const dims: Array<number> = []
  const strides: Array<Array<number>> = strideLists.map(() => [])
  shape.forEach((size, d) => {
    if (size === 1) return
    const last = dims.length - 1
    if (last >= 0 && strideLists.every((s, k) => strides[k]![last] === s[d]! * size)) {
      dims[last] = dims[last]! * size
      strideLists.forEach((s, k) => {
        strides[k]![last] = s[d]!
      })
    } else {
      dims.push(size)
      strideLists.forEach((s, k) => {
        strides[k]!.push(s[d]!)
      })
    }
  })
  return { dims, strides }
}

/** WGSL statements decoding `index` over `rank` dims whose sizes sit at params[sizesAt…], adding each
 * coordinate times params[stridesAt[k] + d] to the variable `targets[k]`. */
export const decodeIndex = (
  index: string,
  rank: number,
  sizesAt: number,
  targets: ReadonlyArray<{ readonly variable: string; readonly stridesAt: number }>,
): string => {
  const lines = [`  var rest_${index} = ${index};`]
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(
      `  { let size = params[${sizesAt + d}u]; let c = rest_${index} % size; rest_${index} = rest_${index} / size;`,
    )
    for (const t of targets) lines.push(`    ${t.variable} += c * params[${t.stridesAt + d}u];`)
    lines.push("  }")
  }
  return lines.join("\n")
}
