import { normalF32 } from "../random/philox.js"
import { brownianTreeNoise, dpmppSdeNoiseSigmas } from "./brownianTree.js"
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

  /**
   * Noise for DPM++ SDE walking `sigmas`: A1111's Brownian trees, one per picture seeded with its seed
   * (`brownianTreeNoise`), each node's noise the first draw of this source's generator for the node's seed,
   * asked at the float32 sigmas k-diffusion asks at (`dpmppSdeNoiseSigmas`).
   * With "nv" these are A1111's numbers for its default "GPU" and its "NV" sources. Independent of the
   * initial noise and of the eta noise seed delta, as in A1111.
   */
  brownian(sigmas: ArrayLike<number>): NoiseSampler {
    const rng = draw[this.options.rng]
    const noise = brownianTreeNoise({
      seeds: this.options.seeds,
      size: this.options.size,
      sigmas,
      randn: (seed, n) => rng(seed, 0, n),
    })
    const asKDiffusion = dpmppSdeNoiseSigmas(sigmas)
    return (sigma, sigmaNext) => noise(asKDiffusion(sigma), asKDiffusion(sigmaNext))
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
