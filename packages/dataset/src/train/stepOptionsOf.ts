import type { SdArchitecture, StepOptions, TrainConfig } from "@danlu/core"

/** kohya's noise, timestep and loss options as the step graph takes them. */
export const stepOptionsOf = (
  config: TrainConfig,
  architecture: SdArchitecture,
  masked: boolean,
): StepOptions => ({
  predictionType: architecture.prediction === "v" ? "v_prediction" : "epsilon",
  lossType: config.lossType,
  huberC: config.huberC,
  huberSchedule: config.huberSchedule,
  ...(config.minSnrGamma === undefined ? {} : { minSnrGamma: config.minSnrGamma }),
  scaleVPredLossLikeNoisePred: config.scaleVPredLossLikeNoisePred,
  debiasedEstimationLoss: config.debiasedEstimationLoss,
  ...(config.noiseOffset === undefined ? {} : { noiseOffset: config.noiseOffset }),
  noiseOffsetRandomStrength: config.noiseOffsetRandomStrength,
  ...(config.adaptiveNoiseScale === undefined ? {} : { adaptiveNoiseScale: config.adaptiveNoiseScale }),
  ...(config.multiresNoiseIterations === undefined
    ? {}
    : { multiresNoiseIterations: config.multiresNoiseIterations }),
  multiresNoiseDiscount: config.multiresNoiseDiscount,
  ...(config.ipNoiseGamma === undefined ? {} : { ipNoiseGamma: config.ipNoiseGamma }),
  minTimestep: config.minTimestep,
  maxTimestep: config.maxTimestep,
  zeroTerminalSnr: config.zeroTerminalSnr,
  maxGradNorm: config.maxGradNorm,
  gradientAccumulationSteps: config.gradientAccumulationSteps,
  maskedLoss: masked,
})
