import { SeedSequence } from "../random/seedSequence.js"
import type { NoiseSampler } from "./samplerPlan.js"

/**
 * The noise A1111's DPM++ SDE samplers draw: k-diffusion's `BrownianTreeNoiseSampler` (one
 * `torchsde.BrownianTree` per picture, seeded with the picture's seed) over torchsde's (0.2.4 to 0.2.6 agree)
 * `BrownianInterval`, with torchsde's `_randn` replaced by A1111's `randn_local` (`modules/
 * sd_samplers_common.py`): a node's noise is the first draw of A1111's generator seeded with the node's seed.
 *
 * The tree is torchsde's with the settings BrownianTree passes: halfway splits, times rounded to 6 decimals
 * (tol 1e-6, Python's `round(x, 6)`), node seeds from NumPy's SeedSequence(entropy = the picture's seed,
 * spawn_key = (node key, depth), pool_size = 24), no Lévy area, and the float32 arithmetic of its tensor ops
 * (each op rounded to float32; Python floats enter an op as float32). Which nodes are cached only changes
 * the speed, never a value: a query in a fresh stretch of time draws ~25 nodes' noise (a 20-step run about
 * 660 draws of a picture's size), so the cache keeps the 100 most recently used nodes (torchsde keeps the
 * last 45 computed).
 */

/** The first `n` standard normals of a generator seeded with `seed` (torchsde's `_randn`). */
export type SeededNormals = (seed: number, n: number) => Float32Array

const POOL_SIZE = 24
const DIGITS = 6
const CACHE_SIZE = 100
const f32 = Math.fround

/**
 * Python's `round(x, digits)` for floats: the double nearest to x rounded to `digits` decimals, ties (on
 * x's exact binary value) to even. `toFixed(100)` prints x's exact value for |x| ≥ 2^-47.
 */
export const pythonRound = (x: number, digits: number): number => {
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21) return x
  const [whole = "0", fraction = ""] = Math.abs(x).toFixed(100).split(".")
  const kept = fraction.slice(0, digits)
  const rest = fraction.slice(digits).replace(/0+$/, "")
  const lastDigit = Number((whole + kept).slice(-1))
  const up = rest > "5" || (rest === "5" && lastDigit % 2 === 1)
  let digitsValue = BigInt(whole + kept)
  if (up) digitsValue += 1n
  const text = digitsValue.toString().padStart(digits + 1, "0")
  const rounded = Number(`${text.slice(0, text.length - digits)}.${text.slice(text.length - digits)}`)
  return x < 0 ? -rounded : rounded
}

const round = (x: number): number => pythonRound(x, DIGITS)

class Interval {
  readonly start: number
  readonly end: number
  midway: number | undefined
  left: Interval | undefined
  right: Interval | undefined
  wSeed = 0

  constructor(
    start: number,
    end: number,
    readonly parent: Interval | undefined,
    readonly isLeft: boolean,
    readonly spawnKey: number,
    readonly depth: number,
  ) {
    this.start = round(start)
    this.end = round(end)
  }
}

export interface BrownianTreeOptions {
  readonly t0: number
  readonly t1: number
  /** The tree's entropy: the picture's seed. */
  readonly entropy: number | bigint
  /** Values per sample (one picture's latents). */
  readonly size: number
  readonly randn: SeededNormals
}

/** torchsde's `BrownianTree(t0, zeros, t1, entropy)` as A1111 builds it; `increment(ta, tb)` is W(tb) − W(ta). */
export class BrownianTree {
  private readonly root: Interval
  private readonly rootW: Float32Array
  private readonly cache = new Map<Interval, Float32Array>()

  constructor(private readonly options: BrownianTreeOptions) {
    const { t0, t1, size } = options
    if (!(t0 <= t1)) throw new RangeError(`a Brownian tree runs from t0 to t1 >= t0, got ${t0} and ${t1}`)
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`a sample holds at least one value, got ${size}`)
    this.root = new Interval(t0, t1, undefined, true, 0, 0)
    const [wSeed] = new SeedSequence({ entropy: options.entropy, poolSize: POOL_SIZE }).generateState(3)
    // torchsde scales by the unrounded span.
    const scale = f32(Math.sqrt(t1 - t0))
    this.rootW = options.randn(wSeed!, size).map((z) => f32(z * scale))
  }

  increment(ta: number, tb: number): Float32Array {
    const { start, end } = this.root
    const a = round(Math.min(Math.max(ta, start), end))
    const b = round(Math.min(Math.max(tb, start), end))
    if (a > b) throw new RangeError(`a Brownian increment runs forward in time, got ${ta} to ${tb}`)
    const out = new Float32Array(this.options.size)
    if (a === b) return out
    const pieces: Array<Interval> = []
    this.locate(this.root, a, b, pieces)
    for (const piece of pieces) {
      const w = this.valueOf(piece)
      for (let j = 0; j < out.length; j++) out[j] = f32(out[j]! + w[j]!)
    }
    return out
  }

  /** The intervals of the tree that tile [a, b], left to right, splitting nodes halfway as needed. */
  private locate(node: Interval, a: number, b: number, out: Array<Interval>): void {
    if (a === node.start && b === node.end) {
      out.push(node)
      return
    }
    const [left, right, midway] = this.split(node)
    if (b <= midway) this.locate(left, a, b, out)
    else if (a >= midway) this.locate(right, a, b, out)
    else {
      this.locate(left, a, midway, out)
      this.locate(right, midway, b, out)
    }
  }

  private split(node: Interval): [Interval, Interval, number] {
    if (node.left && node.right && node.midway !== undefined) return [node.left, node.right, node.midway]
    if (node.depth >= 52) throw new RangeError("a Brownian tree query went deeper than 52 levels")
    const midway = round(0.5 * (node.end + node.start))
    const seeds = new SeedSequence({
      entropy: this.options.entropy,
      spawnKey: [node.spawnKey, node.depth],
      poolSize: POOL_SIZE,
    }).generateState(4)
    node.wSeed = seeds[0]!
    node.midway = midway
    node.left = new Interval(node.start, midway, node, true, 2 * node.spawnKey, node.depth + 1)
    node.right = new Interval(midway, node.end, node, false, 2 * node.spawnKey + 1, node.depth + 1)
    return [node.left, node.right, midway]
  }

  /**
   * A node's increment from its parent's: the Brownian bridge at the parent's midway. One draw of the
   * parent's noise gives both children (torchsde draws it again for each), so both are cached.
   */
  private valueOf(node: Interval): Float32Array {
    const parent = node.parent
    if (!parent) return this.rootW
    const cached = this.cache.get(node)
    if (cached) {
      this.remember(node, cached)
      return cached
    }
    const w = this.valueOf(parent)
    const midway = parent.midway!
    const reciprocal = 1 / (parent.end - parent.start)
    const leftDiff = midway - parent.start
    const rightDiff = parent.end - midway
    const leftDiff32 = f32(leftDiff)
    const reciprocal32 = f32(reciprocal)
    const std = f32(Math.sqrt(leftDiff * rightDiff * reciprocal))
    const noise = this.options.randn(parent.wSeed, w.length)
    const left = new Float32Array(w.length)
    const right = new Float32Array(w.length)
    for (let j = 0; j < w.length; j++) {
      left[j] = f32(f32(f32(leftDiff32 * w[j]!) * reciprocal32) + f32(std * noise[j]!))
      right[j] = f32(w[j]! - left[j]!)
    }
    const [value, sibling] = node.isLeft ? [left, right] : [right, left]
    this.remember(node.isLeft ? parent.right! : parent.left!, sibling)
    this.remember(node, value)
    return value
  }

  private remember(node: Interval, value: Float32Array): void {
    this.cache.delete(node)
    if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!)
    this.cache.set(node, value)
  }
}

export interface BrownianTreeNoiseOptions {
  /** One seed per picture (A1111: the batch's seeds). */
  readonly seeds: ReadonlyArray<number>
  /** Values per picture. */
  readonly size: number
  /** The schedule the sampler walks, ending in 0: the tree spans its smallest positive sigma to its largest. */
  readonly sigmas: ArrayLike<number>
  readonly randn: SeededNormals
}

/**
 * k-diffusion's `BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed=seeds)` as A1111's
 * `create_noise_sampler` builds it for DPM++ SDE: the noise from sigma to sigma_next (taken as float32) is
 * (W(sigma_next) − W(sigma))/sqrt|sigma_next − sigma| on each picture's tree, in float32.
 */
export const brownianTreeNoise = (options: BrownianTreeNoiseOptions): NoiseSampler => {
  const positive = Array.from(options.sigmas, f32).filter((s) => s > 0)
  if (positive.length === 0) throw new RangeError("DPM++ SDE's noise needs a schedule with a positive sigma")
  const sigmaMin = Math.min(...positive)
  const sigmaMax = Math.max(...positive)
  const trees = options.seeds.map(
    (entropy) =>
      new BrownianTree({ t0: sigmaMin, t1: sigmaMax, entropy, size: options.size, randn: options.randn }),
  )
  return (sigma, sigmaNext) => {
    const a = f32(sigma)
    const b = f32(sigmaNext)
    const [low, high, sign] = a < b ? [a, b, 1] : [b, a, -1]
    const scale = f32(Math.sqrt(f32(Math.abs(f32(b - a)))))
    const out = new Float32Array(trees.length * options.size)
    for (const [k, tree] of trees.entries()) {
      const w = tree.increment(low, high)
      for (let j = 0; j < w.length; j++) out[k * options.size + j] = f32((sign * w[j]!) / scale)
    }
    return out
  }
}

/**
 * The float32 sigmas k-diffusion's `sample_dpmpp_sde` hands its noise sampler when it walks `sigmas`: it
 * works in t = −ln sigma on float32 tensors, so a step from sigma_i asks for exp(−t_i) to exp(−s_i), s_i =
 * t_i + (t_{i+1} − t_i)/2, and for exp(−t_i) to exp(−t_{i+1}), every op rounded to float32. The tree resolves
 * time to 1e-6, so these roundings show in the noise; danlu's sampler computes the same sigmas in float64,
 * and this maps each of them to the float32 value k-diffusion passes (any other value is rounded to float32).
 * log and exp are taken correctly rounded; torch's float32 exp and log (CUDA's, or the CPU's vector code)
 * are off by an ulp for some arguments, and such a query then lands on a neighbouring 1e-6 grid point.
 */
export const dpmppSdeNoiseSigmas = (sigmas: ArrayLike<number>): ((sigma: number) => number) => {
  const known: Array<readonly [number, number]> = []
  const t = (sigma: number) => f32(-f32(Math.log(sigma)))
  const sigmaOf = (time: number) => f32(Math.exp(-time))
  for (let i = 0; i + 1 < sigmas.length; i++) {
    const sigma = sigmas[i]!
    const next = sigmas[i + 1]!
    if (!(next > 0)) continue
    const ti = t(sigma)
    const tNext = t(next)
    const s = f32(ti + f32(f32(tNext - ti) * 0.5))
    known.push([sigma, sigmaOf(ti)], [next, sigmaOf(tNext)], [Math.sqrt(sigma * next), sigmaOf(s)])
  }
  return (sigma) => {
    for (const [approx, exact] of known) if (Math.abs(sigma - approx) <= 1e-5 * approx) return exact
    return f32(sigma)
  }
}
