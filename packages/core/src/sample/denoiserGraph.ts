import type { Graph } from "../graph/graph.js"
import type { UNetInputs } from "../models/unet/unet.js"
import { cast } from "../ops/cast.js"
import { add, clamp, div, less, log, mul, recip, rsqrt, sqrt, sub } from "../ops/elementwise.js"
import { gather } from "../ops/indexing.js"
import { concat, reshape, sliceAxis } from "../ops/movement.js"
import { sum } from "../ops/reduce.js"
import { constant, input } from "../ops/sources.js"
import type { DType } from "../tensor/dtype.js"
import type { Tensor } from "../tensor/tensor.js"
import { type DiscreteSchedule, discreteSchedule } from "./discreteSchedule.js"

/** Builds the UNet on given inputs, e.g. `(inputs) => unet(scope.at(unetPrefix), sd15UNet, inputs)`. */
export type UNetBuilder = (inputs: UNetInputs) => Tensor

/** What the model predicts: noise (SD1, SD2-base, SDXL) or v (SD2 768-v). */
export type DenoiserPrediction = "epsilon" | "v"

/** The names a denoiser program's inputs and output carry. */
export const denoiserNames = {
  x: "x",
  sigma: "sigma",
  cond: "cond",
  uncond: "uncond",
  condVector: "cond_y",
  uncondVector: "uncond_y",
  cfgScale: "cfg_scale",
  denoised: "denoised",
} as const

export interface DenoiserGraphOptions {
  /** Pictures per run; the UNet sees twice as many (cond and uncond). */
  readonly batch: number
  /** Latent channels (4). */
  readonly channels?: number
  /** Latent height and width (pixels / 8). */
  readonly height: number
  readonly width: number
  /** Context positions of the positive prompt (77 per chunk) and its width (768 SD1, 1024 SD2, 2048 SDXL). */
  readonly contextLength: number
  readonly contextDim: number
  /**
   * Context positions of the negative prompt (default `contextLength`). When the two differ the UNet runs
   * on each half separately, as A1111 does (its "pad_cond_uncond" is off by default).
   */
  readonly uncondLength?: number
  /** SDXL's conditioning vector width (2816): adds `cond_y` and `uncond_y` inputs [B, vectorDim]. */
  readonly vectorDim?: number
  readonly prediction?: DenoiserPrediction
  /** The model's discrete schedule (default SD's). */
  readonly schedule?: DiscreteSchedule
  /** dtype the UNet computes in (default f32); the wrapper and the guidance stay f32. */
  readonly dtype?: DType
}

export interface DenoiserGraph {
  readonly inputs: {
    readonly x: Tensor
    readonly sigma: Tensor
    readonly cond: Tensor
    readonly uncond: Tensor
    readonly cfgScale: Tensor
    readonly condVector?: Tensor
    readonly uncondVector?: Tensor
  }
  /** D(x, sigma) with guidance, [B, C, H, W] f32. */
  readonly denoised: Tensor
  /** `{ outputs: { denoised } }`, ready for `Backend.compile`. */
  readonly graph: Graph
}

/**
 * k-diffusion's fractional timestep of each sigma, in the graph (`DiscreteSchedule.sigma_to_t`): count the
 * table's log sigmas at or below ln sigma, take that interval (clamped to the table) and interpolate.
 */
export const sigmaToTimestep = (sigma: Tensor, schedule: DiscreteSchedule): Tensor => {
  const steps = schedule.logSigmas.length
  const [batch] = sigma.shape as [number]
  const table = constant(schedule.logSigmas, [steps])
  const logSigma = reshape(log(sigma), [batch, 1])
  const above = sum(cast(less(logSigma, reshape(table, [1, steps])), "f32"), 1)
  const low = clamp(sub(steps - 1, above), 0, steps - 2)
  const lowIndex = cast(low, "i32")
  const lowLog = gather(table, lowIndex)
  const highLog = gather(table, add(lowIndex, 1))
  const w = clamp(div(sub(lowLog, log(sigma)), sub(lowLog, highLog)), 0, 1)
  return add(low, w)
}

/**
 * The denoiser A1111 samples with, as one graph: k-diffusion's CompVis wrapper around the UNet
 * (`CompVisDenoiser`: D = x − sigma·eps(x·c_in, t(sigma)); `CompVisVDenoiser`: D = c_skip·x + c_out·v(x·c_in,
 * t(sigma))), with classifier-free guidance on the denoised outputs (A1111 `CFGDenoiser`:
 * D = D_uncond + cfg_scale·(D_cond − D_uncond)). Cond and uncond rows go through the UNet as one batch
 * [cond…, uncond…]. The CFG scale is an input (a scalar), and so is whatever the UNet builder reads (a
 * LoRA multiplier): changing them never recompiles.
 */
export const denoiserGraph = (buildUNet: UNetBuilder, options: DenoiserGraphOptions): DenoiserGraph => {
  const x = input(denoiserNames.x, [options.batch, options.channels ?? 4, options.height, options.width])
  const sigma = input(denoiserNames.sigma, [options.batch])
  const { inputs, denoised } = guidedDenoiser(buildUNet, options, x, sigma)
  return {
    inputs: { x, sigma, ...inputs },
    denoised,
    graph: { outputs: { [denoiserNames.denoised]: denoised } },
  }
}

/** What `guidedDenoiser` reads besides the latents and sigma. */
export interface GuidanceInputs {
  readonly cond: Tensor
  readonly uncond: Tensor
  readonly cfgScale: Tensor
  readonly condVector?: Tensor
  readonly uncondVector?: Tensor
}

/**
 * `denoiserGraph`'s D(x, sigma) on given latents `x` [B, C, H, W] and noise levels `sigma` [B]; the
 * conditioning and the CFG scale become the graph's inputs of `denoiserNames`.
 */
export const guidedDenoiser = (
  buildUNet: UNetBuilder,
  options: DenoiserGraphOptions,
  x: Tensor,
  sigma: Tensor,
): { readonly inputs: GuidanceInputs; readonly denoised: Tensor } => {
  const schedule = options.schedule ?? discreteSchedule()
  const batch = options.batch
  const dtype = options.dtype ?? "f32"
  const names = denoiserNames
  const cond = input(names.cond, [batch, options.contextLength, options.contextDim])
  const uncond = input(names.uncond, [
    batch,
    options.uncondLength ?? options.contextLength,
    options.contextDim,
  ])
  const cfgScale = input(names.cfgScale, [])
  const vectors =
    options.vectorDim === undefined
      ? undefined
      : {
          cond: input(names.condVector, [batch, options.vectorDim]),
          uncond: input(names.uncondVector, [batch, options.vectorDim]),
        }

  const s = reshape(sigma, [batch, 1, 1, 1])
  const variance = add(mul(s, s), 1)
  const cIn = rsqrt(variance)
  const timesteps = sigmaToTimestep(sigma, schedule)
  const xIn = cast(mul(x, cIn), dtype)
  const run = (rows: number, context: Tensor, y: Tensor | undefined): Tensor => {
    const repeat = (t: Tensor) => (rows === batch ? t : concat([t, t], 0))
    const inputs: UNetInputs = {
      x: repeat(xIn),
      timesteps: repeat(timesteps),
      context: cast(context, dtype),
      ...(y ? { y: cast(y, dtype) } : {}),
    }
    return cast(buildUNet(inputs), "f32")
  }
  const shared = cond.shape[1] === uncond.shape[1]
  const both = shared
    ? run(2 * batch, concat([cond, uncond], 0), vectors && concat([vectors.cond, vectors.uncond], 0))
    : undefined
  const condOut = both ? sliceAxis(both, 0, 0, batch) : run(batch, cond, vectors?.cond)
  const uncondOut = both ? sliceAxis(both, 0, batch, 2 * batch) : run(batch, uncond, vectors?.uncond)

  const denoise = (out: Tensor): Tensor =>
    options.prediction === "v"
      ? add(mul(x, recip(variance)), mul(out, div(mul(s, -1), sqrt(variance))))
      : sub(x, mul(s, out))
  const condDenoised = denoise(condOut)
  const uncondDenoised = denoise(uncondOut)
  const denoised = add(uncondDenoised, mul(sub(condDenoised, uncondDenoised), cfgScale))
  return {
    inputs: {
      cond,
      uncond,
      cfgScale,
      ...(vectors ? { condVector: vectors.cond, uncondVector: vectors.uncond } : {}),
    },
    denoised,
  }
}
