import { philoxInto, splitSeed, type Word64 } from "../random/philox.js"

/**
 * A1111's "NV" random source (`modules/rng_philox.py`): its CPU re-implementation of `torch.randn` on an
 * NVIDIA GPU, so a seed gives the latents A1111 and ComfyUI give on CUDA.
 *
 * Element i of draw number `offset` of a generator seeded with `seed` is one Philox4x32-10 block (the same
 * block function as danlu's stream) with counter [offset, 0, i, 0] and key = the 64-bit seed as [lo, hi];
 * its words 0 and 1 become u = w0·2^-32 + 2^-33 and v = w1·2^-32·2π + 2^-33·2π (the constants rounded to
 * float32 as A1111 writes them, the sums in float64), and the value is sqrt(−2 ln u)·sin(v), rounded to
 * float32. Words 2 and 3 are discarded. Each `randn` call advances the offset by one.
 */

const TWO_POW32_INV = Math.fround(2.3283064e-10)
const TWO_POW32_INV_2PI = Math.fround(2.3283064e-10 * 6.2831855)

/** `n` normals of draw `offset` (0 for the first call after seeding) of A1111's NV generator for `seed`. */
export const nvRandn = (seed: number | bigint | Word64, offset: number, n: number): Float32Array => {
  if (!Number.isInteger(offset) || offset < 0 || offset >= 2 ** 32) {
    throw new RangeError(`an NV draw offset must be an integer in [0, 2^32), got ${offset}`)
  }
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 32) {
    throw new RangeError(`an NV draw holds 0 to 2^32 values, got ${n}`)
  }
  const [lo, hi] = typeof seed === "object" ? seed : splitSeed(seed)
  const out = new Float32Array(n)
  const block = new Uint32Array(4)
  for (let i = 0; i < n; i++) {
    philoxInto(block, 0, offset, 0, i, 0, lo, hi)
    const u = block[0]! * TWO_POW32_INV + TWO_POW32_INV / 2
    const v = block[1]! * TWO_POW32_INV_2PI + TWO_POW32_INV_2PI / 2
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.sin(v)
  }
  return out
}
