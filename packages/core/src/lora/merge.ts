import { refFromHost, refToHost } from "../reference/storage.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import { formatShape, sizeOf } from "../tensor/shape.js"
import type { LoraModuleWeights } from "./moduleWeights.js"

/**
 * A module's weight change `up · down` as a flat `[out, in·kh·kw]` row-major array (A1111/ComfyUI's
 * `up.flatten(1) @ down.flatten(1)`); with a Tucker core, LyCORIS's
 * `einsum("n m k l, i n, m j -> i j k l", mid, up, down)`.
 */
export const loraDelta = (lora: LoraModuleWeights): Float64Array => {
  const r = lora.rank
  const out = lora.up.shape[0]!
  const up = lora.up.data
  const down = lora.down.data
  if (lora.mid) {
    const inputs = lora.down.shape[1]!
    const [, , kh, kw] = lora.mid.shape as [number, number, number, number]
    const taps = kh * kw
    const mid = lora.mid.data
    const delta = new Float64Array(out * inputs * taps)
    for (let i = 0; i < out; i++)
      for (let n = 0; n < r; n++) {
        const u = up[i * r + n]!
        for (let m = 0; m < r; m++)
          for (let j = 0; j < inputs; j++) {
            const ud = u * down[m * inputs + j]!
            for (let t = 0; t < taps; t++)
              delta[(i * inputs + j) * taps + t]! += ud * mid[(n * r + m) * taps + t]!
          }
      }
    return delta
  }
  const cols = sizeOf(lora.down.shape) / r
  const delta = new Float64Array(out * cols)
  for (let i = 0; i < out; i++)
    for (let k = 0; k < r; k++) {
      const u = up[i * r + k]!
      for (let j = 0; j < cols; j++) delta[i * cols + j]! += u * down[k * cols + j]!
    }
  return delta
}

/**
 * Merges LoRAs into base weights on the host: `W += multiplier · alpha/rank · up·down` (into the module's rows
 * of a fused q/k/v projection), computed in f64 and stored back in each weight's dtype. Returns the changed
 * weights by checkpoint key; `weights` is not modified. A weight missing from `weights` is an error.
 */
export const mergeLora = (
  weights: ReadonlyMap<string, HostTensor> | Readonly<Record<string, HostTensor>>,
  loras: ReadonlyArray<LoraModuleWeights>,
  multiplier = 1,
): Map<string, HostTensor> => {
  const lookup = (key: string) =>
    weights instanceof Map ? weights.get(key) : (weights as Record<string, HostTensor>)[key]
  const merged = new Map<string, { base: HostTensor; values: Float64Array }>()
  for (const lora of loras) {
    const key = lora.module.weightKey
    let target = merged.get(key)
    if (!target) {
      const base = lookup(key)
      if (!base) throw new RangeError(`LoRA ${lora.name} patches ${key}, which the base weights lack`)
      target = { base, values: Float64Array.from(refFromHost(base)) }
      merged.set(key, target)
    }
    const delta = loraDelta(lora)
    const rowWidth = sizeOf(target.base.shape.slice(1))
    const [first, last] = lora.module.weightRows ?? [0, target.base.shape[0]!]
    if (delta.length !== (last - first) * rowWidth) {
      throw new RangeError(
        `LoRA ${lora.name} (up ${formatShape(lora.up.shape)}, down ${formatShape(lora.down.shape)}) does not fit ${key} ${formatShape(target.base.shape)}`,
      )
    }
    const scale = (multiplier * lora.alpha) / lora.rank
    const offset = first * rowWidth
    for (let i = 0; i < delta.length; i++) target.values[offset + i]! += scale * delta[i]!
  }
  return new Map(
    [...merged].map(([key, { base, values }]) => [key, refToHost(values, base.dtype, base.shape)] as const),
  )
}
