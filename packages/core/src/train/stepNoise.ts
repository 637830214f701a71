import { cast } from "../ops/cast.js"
import { add, div, greater, maximum, mul, neg, sqrt, square, sub } from "../ops/elementwise.js"
import { reshape, sliceAxis } from "../ops/movement.js"
import { mean, sum } from "../ops/reduce.js"
import { full } from "../ops/sources.js"
import { sizeOf } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"
import { bilinearResizeCorner } from "./bilinearResize.js"
import type { Draw } from "./draws.js"
import type { ResolvedStepOptions } from "./stepOptions.js"

/** The noise of one step: what the target is made of, and what is added to the latents. */
export interface StepNoise {
  /** After noise offset and multires noise; the ε target. */
  readonly noise: Tensor
  /** `noise` plus the input perturbation of `ipNoiseGamma` (the target keeps the unperturbed noise). */
  readonly inputNoise: Tensor
}

type NoiseOptions = Pick<
  ResolvedStepOptions,
  | "noiseOffset"
  | "noiseOffsetRandomStrength"
  | "adaptiveNoiseScale"
  | "multiresNoiseIterations"
  | "multiresNoiseDiscount"
  | "ipNoiseGamma"
  | "ipNoiseGammaRandomStrength"
>

const abs = (x: Tensor): Tensor => maximum(x, neg(x))

/** Draws a random-strength scalar `U(0,1)·value` (kohya's `*_random_strength`) or keeps `value`. */
const strength = (draw: Draw, name: "offset_strength" | "ip_strength", value: number, random: boolean) =>
  random ? mul(draw(name, [1], "uniform"), value) : value

/**
 * kohya's `apply_noise_offset`: one extra normal value per sample and channel, scaled by `noiseOffset`
 * (times U(0,1) with random strength), plus `adaptiveNoiseScale·|mean_HW(latents)|`, clamped at 0.
 */
const offsetNoise = (noise: Tensor, latents: Tensor, draw: Draw, options: NoiseOptions): Tensor => {
  if (options.noiseOffset === undefined) return noise
  const [b, c] = latents.shape as [number, number]
  let offset: Tensor | number = strength(
    draw,
    "offset_strength",
    options.noiseOffset,
    options.noiseOffsetRandomStrength,
  )
  if (options.adaptiveNoiseScale !== undefined) {
    const latentMean = abs(mean(latents, [2, 3], true))
    offset = maximum(add(mul(latentMean, options.adaptiveNoiseScale), offset), 0)
  }
  return add(noise, mul(draw("offset_noise", [b, c, 1, 1], "normal"), offset))
}

/**
 * kohya's `pyramid_noise_like`: level i adds fresh noise of size max(1, ⌊dim / rⁱ⌋) (r = 2 + 2·U(0,1) per
 * level) resized bilinearly to full size and scaled by discountⁱ; the levels after the first one that is 1
 * pixel high or wide add nothing; then the sum is divided by its (unbiased) standard deviation. The sizes
 * are drawn at run time, so each level draws full-size noise and resizes its top-left corner.
 */
const multiresNoise = (noise: Tensor, draw: Draw, options: NoiseOptions): Tensor => {
  const iterations = options.multiresNoiseIterations
  if (iterations === 0) return noise
  const shape = noise.shape
  const [height, width] = shape.slice(2) as [number, number]
  const scales = add(mul(draw("multires_scales", [iterations], "uniform"), 2), 2)
  let total = add(noise, draw("multires_noise.0", shape, "normal"))
  let alive: Tensor | undefined
  for (let level = 1; level < iterations && height > 1 && width > 1; level++) {
    const r = reshape(sliceAxis(scales, 0, level, level + 1), [])
    let power = r
    for (let k = 1; k < level; k++) power = mul(power, r)
    const sizeOfAxis = (dim: number) => maximum(cast(cast(div(dim, power), "i32"), "f32"), 1)
    const h = sizeOfAxis(height)
    const w = sizeOfAxis(width)
    const fresh = draw(`multires_noise.${level}`, shape, "normal")
    const weight = alive
      ? mul(alive, options.multiresNoiseDiscount ** level)
      : options.multiresNoiseDiscount ** level
    total = add(total, mul(bilinearResizeCorner(fresh, h, w), weight))
    const next = mul(cast(greater(h, 1), "f32"), cast(greater(w, 1), "f32"))
    alive = alive ? mul(alive, next) : next
  }
  const centred = sub(total, mean(total))
  const variance = mul(sum(square(centred)), 1 / (sizeOf(shape) - 1))
  return div(total, sqrt(variance))
}

/** The step's noise, in kohya's order: offset, then multires (which rescales the offset), then the ip perturbation. */
export const stepNoise = (latents: Tensor, draw: Draw, options: NoiseOptions): StepNoise => {
  const base = draw("noise", latents.shape, "normal")
  const noise = multiresNoise(offsetNoise(base, latents, draw, options), draw, options)
  if (options.ipNoiseGamma === undefined) return { noise, inputNoise: noise }
  const gamma = strength(draw, "ip_strength", options.ipNoiseGamma, options.ipNoiseGammaRandomStrength)
  return { noise, inputNoise: add(noise, mul(draw("ip_noise", latents.shape, "normal"), gamma)) }
}

/**
 * Integer timesteps [B] uniform in [minTimestep, maxTimestep): ⌊u·(max − min)⌋ + min from uniform draws
 * (kohya's `randint`); all equal to maxTimestep when min ≥ max, as kohya does.
 */
export const drawTimesteps = (
  batch: number,
  draw: Draw,
  { minTimestep, maxTimestep }: Pick<ResolvedStepOptions, "minTimestep" | "maxTimestep">,
): Tensor => {
  if (minTimestep >= maxTimestep) return full(maxTimestep, [batch], "i32")
  const u = draw("timesteps", [batch], "uniform")
  return add(cast(mul(u, maxTimestep - minTimestep), "i32"), minTimestep)
}
