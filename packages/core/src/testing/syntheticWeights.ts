// Deterministic weights as a pure function of (checkpoint key, shape): the TypeScript twin of
// tools/reference/common.py, so golden files carry only inputs, outputs and gradients.
import type { WeightEntry } from "../nn/weightScope.js"

const fnv1a = (text: string): number => {
  let h = 0x811c9dc5
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0
  return h
}

/** `count` values in [-1, 1) with 24 significant bits. */
export const hashedUniform = (key: string, count: number): Float64Array => {
  const seed = fnv1a(key)
  const out = new Float64Array(count)
  for (let i = 0; i < count; i++) {
    let x = (seed + Math.imul(i, 0x9e3779b9)) >>> 0
    x = (x ^ (x >>> 16)) >>> 0
    x = Math.imul(x, 0x85ebca6b) >>> 0
    x = (x ^ (x >>> 13)) >>> 0
    x = Math.imul(x, 0xc2b2ae35) >>> 0
    x = (x ^ (x >>> 16)) >>> 0
    out[i] = (x >>> 8) / 2 ** 23 - 1
  }
  return out
}

const sizeOf = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

/** Norm scales near 1, biases small, matrices scaled by 1/sqrt(fan_in); rounded to f32. */
export const synthetic = (key: string, shape: ReadonlyArray<number>): Float64Array => {
  const u = hashedUniform(key, sizeOf(shape))
  const fanIn = sizeOf(shape.slice(1))
  return u.map((v) =>
    Math.fround(shape.length === 1 ? (key.endsWith("weight") ? 1 + 0.2 * v : 0.2 * v) : v / Math.sqrt(fanIn)),
  )
}

/** Synthetic values for every weight of a manifest, as feeds for `Reference.evaluateExact`. */
export const syntheticFeeds = (manifest: ReadonlyMap<string, WeightEntry>): Record<string, Float64Array> =>
  Object.fromEntries([...manifest.values()].map((e) => [e.key, synthetic(e.key, e.shape)]))
