export {
  BrownianTree,
  type BrownianTreeNoiseOptions,
  type BrownianTreeOptions,
  brownianTreeNoise,
  dpmppSdeNoiseSigmas,
  type SeededNormals,
} from "./brownianTree.js"
export { type DdimOptions, sampleDdim } from "./ddim.js"
export {
  type DenoiserGraph,
  type DenoiserGraphOptions,
  type DenoiserPrediction,
  denoiserGraph,
  denoiserNames,
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
export {
  type ExtraNetworkTag,
  extractLoras,
  type LoraReference,
  LoraTagError,
  type PromptNetworks,
} from "./extraNetworks.js"
export {
  ancestralStep,
  type Denoiser,
  type KSamplerOptions,
  type NoiseSampler,
  type SamplerStep,
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
export { type SampleOptions, sample } from "./sample.js"
export {
  kohyaSampler,
  kohyaSamplerNames,
  parseSamplePromptLine,
  parseSamplePrompts,
  type SamplePrompt,
  SamplePromptError,
} from "./samplePrompts.js"
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
export { ddimTimesteps, exponentialSigmas, karrasSigmas, uniformSigmas } from "./sigmaSchedules.js"
