export {
  BrownianTree,
  type BrownianTreeNoiseOptions,
  type BrownianTreeOptions,
  brownianTreeNoise,
  dpmppSdeNoiseSigmas,
  type SeededNormals,
} from "./brownianTree.js"
export { type DdimOptions, type DdimPlanOptions, ddimPlan, sampleDdim } from "./ddim.js"
export {
  type DenoiserGraph,
  type DenoiserGraphOptions,
  type DenoiserPrediction,
  denoiserGraph,
  denoiserNames,
  type GuidanceInputs,
  guidedDenoiser,
  sigmaToTimestep,
  type UNetBuilder,
} from "./denoiserGraph.js"
export { cfgScaleInput, programDenoiser } from "./denoiserProgram.js"
export {
  type DiscreteSchedule,
  discreteSchedule,
  sigmaToT,
  tToSigma,
} from "./discreteSchedule.js"
export { COEFFICIENT_PIECES, coefficientPieces, exactCombination } from "./exactCombination.js"
export {
  type ExtraNetworkTag,
  extractLoras,
  type LoraReference,
  LoraTagError,
  type PromptNetworks,
} from "./extraNetworks.js"
export {
  ancestralStep,
  dpmpp2mPlan,
  dpmppSdePlan,
  eulerAncestralPlan,
  eulerPlan,
  heunPlan,
  type KPlanOptions,
  type KSamplerOptions,
  sampleDpmpp2m,
  sampleDpmppSde,
  sampleEuler,
  sampleEulerAncestral,
  sampleHeun,
} from "./kSamplers.js"
export { batchSeeds, ImageNoise, type ImageNoiseOptions, type RngName, rngNames } from "./noise.js"
export { nvRandn } from "./nvRandom.js"
export {
  type PromptConditioningGraph,
  promptConditioningGraph,
  promptConditioningInputs,
  promptConditioningNames,
  type TextEncoderBuilder,
  weightedChunks,
} from "./promptConditioning.js"
export { type SampleOptions, type SamplerSettings, sample, type Txt2ImgPlan, txt2imgPlan } from "./sample.js"
export { type DeviceSampleOptions, sampleOnDevice } from "./sampleOnDevice.js"
export {
  kohyaSampler,
  kohyaSamplerNames,
  parseSamplePromptLine,
  parseSamplePrompts,
  type SamplePrompt,
  SamplePromptError,
} from "./samplePrompts.js"
export {
  type SamplerGraph,
  samplerCoefficientRows,
  samplerGraph,
  samplerProgramNames,
} from "./samplerGraph.js"
export {
  parseSamplerName,
  resolveScheduler,
  type SamplerChoice,
  type SamplerName,
  SamplerNameError,
  type SchedulerName,
  samplerNames,
  samplerSigmas,
  schedulerLabels,
  schedulerNames,
  scheduleTypeLabel,
} from "./samplerNames.js"
export {
  type Denoiser,
  drawsNoise,
  type HostPlanOptions,
  linearUpdate,
  type NoiseSampler,
  requireNoise,
  runSamplerPlan,
  type SamplerEvaluation,
  type SamplerPlan,
  type SamplerProgress,
  type SamplerStep,
  type UpdateCoefficients,
} from "./samplerPlan.js"
export { ddimTimesteps, exponentialSigmas, karrasSigmas, uniformSigmas } from "./sigmaSchedules.js"
