/** kohya's `--loss_type`. */
export type LossType = "l2" | "l1" | "huber" | "smooth_l1"

/** kohya's `--huber_schedule`. */
export type HuberSchedule = "constant" | "exponential" | "snr"

/**
 * The options of one training step, named as camelCase of kohya sd-scripts' flags and defaulting as kohya
 * does. They shape the graph; what varies per step (learning rates, step counter, noise key, loss weights,
 * the accumulation flag) is fed as inputs.
 */
export interface StepOptions {
  /** "v_prediction" is `--v_parameterization` (SD2-768-v). Default "epsilon". */
  readonly predictionType?: "epsilon" | "v_prediction"
  readonly lossType?: LossType
  /** Default 0.1. */
  readonly huberC?: number
  /** Default "snr". */
  readonly huberSchedule?: HuberSchedule
  /** Default 1. */
  readonly huberScale?: number
  readonly minSnrGamma?: number
  readonly scaleVPredLossLikeNoisePred?: boolean
  readonly vPredLikeLoss?: number
  readonly debiasedEstimationLoss?: boolean
  readonly noiseOffset?: number
  readonly noiseOffsetRandomStrength?: boolean
  readonly adaptiveNoiseScale?: number
  readonly multiresNoiseIterations?: number
  /** Default 0.3. */
  readonly multiresNoiseDiscount?: number
  readonly ipNoiseGamma?: number
  readonly ipNoiseGammaRandomStrength?: boolean
  /** Default 0. */
  readonly minTimestep?: number
  /** Default 1000 (exclusive). */
  readonly maxTimestep?: number
  readonly zeroTerminalSnr?: boolean
  /** Global L2 norm the gradients are clipped to (torch `clip_grad_norm_`); default 1, 0 turns clipping off. */
  readonly maxGradNorm?: number
  /** Micro-steps per optimizer step; default 1. */
  readonly gradientAccumulationSteps?: number
  /** `--masked_loss` / `alpha_mask`: the step takes a `loss_mask` input [B, 1, H, W] at latent size. */
  readonly maskedLoss?: boolean
  /**
   * Where the step's random numbers come from: "philox" (default) draws them in the graph from the
   * `noise_key` input; "inputs" takes each draw as an input `draw.<name>` of the same shape and meaning
   * (for tests against implementations that cannot reproduce Philox).
   */
  readonly noiseSource?: "philox" | "inputs"
}

type Optional = "minSnrGamma" | "vPredLikeLoss" | "noiseOffset" | "adaptiveNoiseScale" | "ipNoiseGamma"

/** Every option resolved to its value; the ones kohya leaves off are undefined when off. */
export type ResolvedStepOptions = Required<Omit<StepOptions, Optional>> & {
  readonly [K in Optional]: number | undefined
}

const positiveOrUndefined = (value: number | undefined): number | undefined =>
  value === undefined || value === 0 ? undefined : value

/** kohya's defaults filled in, and the combinations kohya rejects (or would index out of range) refused. */
export const resolveStepOptions = (options: StepOptions = {}): ResolvedStepOptions => {
  const resolved = {
    predictionType: options.predictionType ?? "epsilon",
    lossType: options.lossType ?? "l2",
    huberC: options.huberC ?? 0.1,
    huberSchedule: options.huberSchedule ?? "snr",
    huberScale: options.huberScale ?? 1,
    minSnrGamma: positiveOrUndefined(options.minSnrGamma),
    scaleVPredLossLikeNoisePred: options.scaleVPredLossLikeNoisePred ?? false,
    vPredLikeLoss: positiveOrUndefined(options.vPredLikeLoss),
    debiasedEstimationLoss: options.debiasedEstimationLoss ?? false,
    noiseOffset: positiveOrUndefined(options.noiseOffset),
    noiseOffsetRandomStrength: options.noiseOffsetRandomStrength ?? false,
    adaptiveNoiseScale: positiveOrUndefined(options.adaptiveNoiseScale),
    multiresNoiseIterations: options.multiresNoiseIterations ?? 0,
    multiresNoiseDiscount: options.multiresNoiseDiscount ?? 0.3,
    ipNoiseGamma: positiveOrUndefined(options.ipNoiseGamma),
    ipNoiseGammaRandomStrength: options.ipNoiseGammaRandomStrength ?? false,
    minTimestep: options.minTimestep ?? 0,
    maxTimestep: options.maxTimestep ?? 1000,
    zeroTerminalSnr: options.zeroTerminalSnr ?? false,
    maxGradNorm: options.maxGradNorm ?? 1,
    gradientAccumulationSteps: options.gradientAccumulationSteps ?? 1,
    maskedLoss: options.maskedLoss ?? false,
    noiseSource: options.noiseSource ?? "philox",
  }
  const { minTimestep: lo, maxTimestep: hi } = resolved
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > 1000 || (lo >= hi && hi > 999)) {
    throw new RangeError(
      `timesteps are drawn from [minTimestep, maxTimestep) within [0, 1000), got [${lo}, ${hi})`,
    )
  }
  if (!Number.isInteger(resolved.gradientAccumulationSteps) || resolved.gradientAccumulationSteps < 1) {
    throw new RangeError(
      `gradientAccumulationSteps must be a positive integer, got ${resolved.gradientAccumulationSteps}`,
    )
  }
  if (
    !Number.isInteger(resolved.multiresNoiseIterations) ||
    resolved.multiresNoiseIterations < 0 ||
    resolved.multiresNoiseIterations > 1000
  ) {
    throw new RangeError(
      `multiresNoiseIterations must be an integer in [0, 1000], got ${resolved.multiresNoiseIterations}`,
    )
  }
  if (resolved.adaptiveNoiseScale !== undefined && resolved.noiseOffset === undefined) {
    throw new RangeError("adaptiveNoiseScale needs noiseOffset")
  }
  if (!(resolved.maxGradNorm >= 0))
    throw new RangeError(`maxGradNorm must be ≥ 0, got ${resolved.maxGradNorm}`)
  return resolved
}
