export * from "./architecture.js"
export * from "./baseWeights.js"
export type * from "./batchSource.js"
export * from "./config.js"
export * from "./configChecks.js"
export {
  type Draw,
  type DrawName,
  drawKey,
  FREE_DRAWS,
  inputDraws,
  NOISE_KEY,
  philoxDraws,
  stepDraws,
  stepKey,
} from "./draws.js"
export * from "./events.js"
export * from "./fineTune.js"
export * from "./loop.js"
export { huberThresholds, timestepLossWeights } from "./lossWeights.js"
export { type NoiseSchedule, noiseSchedule, TRAIN_TIMESTEPS } from "./noiseSchedule.js"
export * from "./precision.js"
export * from "./sdModel.js"
export { type Denoise, type StepLoss, stepInputNames, stepLoss } from "./stepLoss.js"
export { drawTimesteps, type StepNoise, stepNoise } from "./stepNoise.js"
export {
  type HuberSchedule,
  type LossType,
  type ResolvedStepOptions,
  resolveStepOptions,
  type StepOptions,
} from "./stepOptions.js"
export * from "./syntheticCheckpoint.js"
export * from "./trainEstimate.js"
export * from "./trainedNetwork.js"
export {
  accumulatorName,
  buildTrainingStep,
  type GradientGroup,
  type StepOptimizer,
  type TrainableGroup,
  type TrainingStep,
  type TrainingStepSpec,
} from "./trainingStep.js"
export { trainProgressEvent } from "./trainProgress.js"
export { buildValidationLoss, VALIDATION_TIMESTEPS, type ValidationLossSpec } from "./validationLoss.js"
