import { add } from "../ops/elementwise.js"
import { constant, input, random } from "../ops/sources.js"
import { drawOffset, fillKey, type Word64 } from "../random/philox.js"
import type { Shape } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"

/** Name of the u32[4] input that keys a step's random draws. */
export const NOISE_KEY = "noise_key"

/**
 * Draw indices within a step, fixed whatever the options so that turning one on does not move the others.
 * Indices from `FREE_DRAWS` on are left for the caller's own draws (dropout masks, ...).
 */
export const stepDraws = {
  noise: 0,
  timesteps: 1,
  offset_noise: 2,
  offset_strength: 3,
  ip_noise: 4,
  ip_strength: 5,
  multires_scales: 6,
  /** Level i of multires noise uses index 16 + i. */
  multires_noise: 16,
} as const

/** Indices a step's own draws never use (multires levels stop below it). */
export const FREE_DRAWS = 1024

/** Draws of one validation timestep are kept apart by this stride. */
export const ROUND_STRIDE = 2048

export type DrawName = Exclude<keyof typeof stepDraws, "multires_noise"> | `multires_noise.${number}`

/**
 * The `noise_key` of global micro-step `microStep` of a run seeded with `seed`: [seedLo, seedHi, offsetLo,
 * offsetHi] with the offset `drawOffset(microStep, 0)`; draw k of the step adds k to the offset, so no two
 * draws of a run share a Philox counter.
 */
export const stepKey = (seed: number | bigint | Word64, microStep: number): Uint32Array =>
  fillKey(seed, drawOffset(microStep, 0))

/** The key of draw `draw` of the step keyed by `key`. */
export const drawKey = (key: Tensor, draw: number): Tensor =>
  draw === 0 ? key : add(key, constant([0, 0, draw, 0], [4], "u32"))

const drawIndex = (name: DrawName): number =>
  name.startsWith("multires_noise.")
    ? stepDraws.multires_noise + Number(name.slice("multires_noise.".length))
    : stepDraws[name as Exclude<DrawName, `multires_noise.${number}`>]

/** One random tensor of a step: uniform in (0, 1) or standard normal. */
export type Draw = (name: DrawName, shape: Shape, distribution: "uniform" | "normal") => Tensor

/** Draws from the Philox stream of `key`, round `round` (validation timesteps each take a round). */
export const philoxDraws =
  (key: Tensor, round = 0): Draw =>
  (name, shape, distribution) =>
    random(drawKey(key, round * ROUND_STRIDE + drawIndex(name)), shape, distribution)

/** Draws fed by the caller as inputs `draw.<name>`. */
export const inputDraws: Draw = (name, shape) => input(`draw.${name}`, shape)
