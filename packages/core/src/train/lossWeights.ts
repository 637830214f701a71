import type { NoiseSchedule } from "./noiseSchedule.js"
import { TRAIN_TIMESTEPS } from "./noiseSchedule.js"
import type { ResolvedStepOptions } from "./stepOptions.js"

type WeightOptions = Pick<
  ResolvedStepOptions,
  | "predictionType"
  | "minSnrGamma"
  | "scaleVPredLossLikeNoisePred"
  | "vPredLikeLoss"
  | "debiasedEstimationLoss"
>

/**
 * The factor each sample's loss is multiplied by, per timestep: kohya's `post_process_loss` (min-SNR,
 * v-pred scaling, v-like loss, debiased estimation, in that order) folded into one table, since each is a
 * function of t alone. Undefined when no weighting is on.
 */
export const timestepLossWeights = (
  schedule: NoiseSchedule,
  options: WeightOptions,
): Float32Array | undefined => {
  const { minSnrGamma, vPredLikeLoss } = options
  const v = options.predictionType === "v_prediction"
  if (
    minSnrGamma === undefined &&
    !options.scaleVPredLossLikeNoisePred &&
    vPredLikeLoss === undefined &&
    !options.debiasedEstimationLoss
  ) {
    return undefined
  }
  return Float32Array.from(schedule.snr, (snr) => {
    const capped = Math.min(snr, 1000)
    const vScale = capped / (capped + 1)
    let weight = 1
    if (minSnrGamma !== undefined) weight *= Math.min(snr, minSnrGamma) / (v ? snr + 1 : snr)
    if (options.scaleVPredLossLikeNoisePred) weight *= vScale
    if (vPredLikeLoss !== undefined) weight *= 1 + vPredLikeLoss / vScale
    if (options.debiasedEstimationLoss) weight *= v ? 1 / (capped + 1) : 1 / Math.sqrt(capped)
    return weight
  })
}

/**
 * The pseudo-Huber threshold c per timestep (kohya's `get_huber_threshold_if_needed`); undefined for l2/l1.
 * The "snr" schedule reads the (possibly rescaled) ᾱ the noise is added with, as kohya does.
 */
export const huberThresholds = (
  schedule: NoiseSchedule,
  options: Pick<ResolvedStepOptions, "lossType" | "huberC" | "huberSchedule" | "huberScale">,
): Float32Array | undefined => {
  if (options.lossType !== "huber" && options.lossType !== "smooth_l1") return undefined
  const { huberC, huberScale } = options
  return Float32Array.from({ length: TRAIN_TIMESTEPS }, (_, t) => {
    switch (options.huberSchedule) {
      case "constant":
        return huberC * huberScale
      case "exponential":
        return Math.exp((Math.log(huberC) / TRAIN_TIMESTEPS) * t) * huberScale
      case "snr": {
        const ac = schedule.alphasCumprod[t]!
        const sigma = Math.sqrt((1 - ac) / ac)
        return (1 - huberC) / (1 + sigma) ** 2 + huberC
      }
    }
  })
}
