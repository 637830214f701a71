const f32 = Math.fround

/** torch.linspace in float32 as its CPU kernel computes it: the first half counts up from start, the rest down from end. */
const linspaceF32 = (start: number, end: number, steps: number): Array<number> => {
  const [a, b] = [f32(start), f32(end)]
  const step = f32(f32(b - a) / (steps - 1))
  const half = Math.floor(steps / 2)
  return Array.from({ length: steps }, (_, i) =>
    i < half ? f32(a + f32(step * i)) : f32(b - f32(step * (steps - i - 1))),
  )
}

/**
 * bitsandbytes' 8-bit dynamic quantization map (`functional.create_dynamic_map`, max_exponent_bits 7, total_bits 8):
 * for each decade 10^(i−6), i = 0..6, the midpoints of linspace(0.1, 1, n + 1) with n = 2^i (signed, mirrored
 * negative) or 2^(i+1) (unsigned), then 0 and 1, sorted: 256 float32 values. AdamW8bit quantizes its first moment
 * with the signed map and its second with the unsigned one.
 */
export const dynamicMap = (signed: boolean): Float32Array => {
  const values: Array<number> = []
  for (let i = 0; i < 7; i++) {
    const boundaries = linspaceF32(0.1, 1, (signed ? 2 ** i : 2 ** (i + 1)) + 1)
    const scale = f32(10 ** (i - 6))
    for (let k = 0; k + 1 < boundaries.length; k++) {
      const mid = f32(f32(boundaries[k]! + boundaries[k + 1]!) / 2)
      values.push(f32(scale * mid))
      if (signed) values.push(-f32(scale * mid))
    }
  }
  values.push(0, 1)
  return Float32Array.from(values.sort((x, y) => x - y))
}
