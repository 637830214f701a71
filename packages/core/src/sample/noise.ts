import { normalF32 } from "../random/philox.js"
import { nvRandn } from "./nvRandom.js"
import type { NoiseSampler } from "./samplerPlan.js"

/**
 * Where a picture's noise comes from: "philox" is danlu's own stream (the same numbers on every danlu
 * backend, `Random.normalF32`); "nv" is A1111's NV source, which gives the latents A1111 and ComfyUI give
 * for a seed on an NVIDIA GPU.
 */
export const rngNames = ["philox", "nv"] as const
export type RngName = (typeof rngNames)[number]

/** `n` standard normals of draw `offset` of the generator seeded with `seed`. */
const draw: Readonly<Record<RngName, (seed: number, offset: number, n: number) => Float32Array>> = {
  philox: (seed, offset, n) => normalF32(n, seed, offset),
  nv: nvRandn,
}

/** A1111's seeds for a batch: seed, seed + 1, … one per picture (subseeds off). */
export const batchSeeds = (seed: number, count: number): Array<number> => {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`a seed must be a non-negative integer, got ${seed}`)
  return Array.from({ length: count }, (_, k) => seed + k)
}

/** One picture's generator: each call is the next draw of `n` normals. */
class NoiseStream {
  private offset = 0
  constructor(
    private readonly rng: RngName,
    private readonly seed: number,
  ) {}
  next(n: number): Float32Array {
    return draw[this.rng](this.seed, this.offset++, n)
  }
}

/**
 * A picture's Brownian motion W over sigma, drawn lazily from its stream where the sampler asks: a point
 * beyond the known ones extends the path by an independent increment, a point between two known ones is
 * drawn from the Brownian bridge between them. The noise for a step from a to b is (W(b) − W(a))/sqrt|b − a|,
 * standard normal, and steps that share a stretch of sigma share its randomness — the property DPM++ SDE
 * relies on (k-diffusion's `BrownianTreeNoiseSampler`, which A1111 uses with the picture's seed; torchsde's
 * tree draws other numbers, so DPM++ SDE pictures do not match A1111's bit for bit).
 */
class BrownianPath {
  private readonly points: Array<{ readonly at: number; readonly w: Float64Array }> = []
  constructor(
    private readonly stream: NoiseStream,
    private readonly size: number,
  ) {}

  private valueAt(at: number): Float64Array {
    const points = this.points
    const found = points.find((p) => p.at === at)
    if (found) return found.w
    const w = new Float64Array(this.size)
    if (points.length > 0) {
      const z = this.stream.next(this.size)
      const above = points.findIndex((p) => p.at > at)
      if (above === 0 || above === -1) {
        const end = above === 0 ? points[0]! : points[points.length - 1]!
        const scale = Math.sqrt(Math.abs(at - end.at))
        for (let j = 0; j < w.length; j++) w[j] = end.w[j]! + scale * z[j]!
      } else {
        const left = points[above - 1]!
        const right = points[above]!
        const span = right.at - left.at
        const fraction = (at - left.at) / span
        const scale = Math.sqrt(((at - left.at) * (right.at - at)) / span)
        for (let j = 0; j < w.length; j++) {
          w[j] = left.w[j]! + fraction * (right.w[j]! - left.w[j]!) + scale * z[j]!
        }
      }
    }
    points.push({ at, w })
    points.sort((p, q) => p.at - q.at)
    return w
  }

  increment(from: number, to: number, out: Float32Array, at: number): void {
    const a = this.valueAt(from)
    const b = this.valueAt(to)
    const scale = 1 / Math.sqrt(Math.abs(to - from))
    for (let j = 0; j < this.size; j++) out[at + j] = (b[j]! - a[j]!) * scale
  }
}

export interface ImageNoiseOptions {
  readonly rng: RngName
  /** One seed per picture (`batchSeeds`). */
  readonly seeds: ReadonlyArray<number>
  /** Values per picture, e.g. 4 · (H/8) · (W/8). */
  readonly size: number
  /**
   * A1111's "Eta noise seed delta" (ENSD, default 0): when set, the sampler's noise comes from fresh
   * generators seeded with seed + delta instead of continuing the initial noise's generators.
   */
  readonly etaNoiseSeedDelta?: number
}

/**
 * A batch's noise as A1111 draws it (`modules/rng.py` ImageRNG): one generator per picture, seeded with
 * its own seed; the initial latents are each generator's first draw stacked, and every later draw for the
 * sampler continues the same generators — so a picture is the same whatever batch it is made in.
 */
export class ImageNoise {
  private readonly streams: ReadonlyArray<NoiseStream>
  private samplerStreams: ReadonlyArray<NoiseStream> | undefined
  private started = false

  constructor(private readonly options: ImageNoiseOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new RangeError(`a picture holds at least one value, got ${options.size}`)
    }
    this.streams = options.seeds.map((seed) => new NoiseStream(options.rng, seed))
  }

  /** The standard-normal starting latents [B, size] (scale by sigmas[0] for the k-diffusion samplers). */
  initial(): Float32Array {
    if (this.started)
      throw new RangeError("the initial noise is the first draw of each generator; draw it once")
    this.started = true
    const out = this.stack(this.streams)
    const delta = this.options.etaNoiseSeedDelta ?? 0
    this.samplerStreams =
      delta === 0
        ? this.streams
        : this.options.seeds.map((seed) => new NoiseStream(this.options.rng, seed + delta))
    return out
  }

  /** k-diffusion's plain `randn_like` noise: the next draw of every picture's generator. */
  ancestral(): NoiseSampler {
    const streams = this.afterInitial()
    return () => this.stack(streams)
  }

  /** Noise for DPM++ SDE: one Brownian path per picture over its generator (see `BrownianPath`). */
  brownian(): NoiseSampler {
    const paths = this.afterInitial().map((stream) => new BrownianPath(stream, this.options.size))
    return (sigma, sigmaNext) => {
      const out = new Float32Array(paths.length * this.options.size)
      for (const [k, path] of paths.entries()) path.increment(sigma, sigmaNext, out, k * this.options.size)
      return out
    }
  }

  private afterInitial(): ReadonlyArray<NoiseStream> {
    if (!this.samplerStreams) throw new RangeError("draw the initial noise before the sampler's noise")
    return this.samplerStreams
  }

  private stack(streams: ReadonlyArray<NoiseStream>): Float32Array {
    const size = this.options.size
    const out = new Float32Array(streams.length * size)
    for (const [k, stream] of streams.entries()) out.set(stream.next(size), k * size)
    return out
  }
}
