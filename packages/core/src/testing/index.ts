/**
 * @danlu/core/testing — the conformance suite every backend runs on itself (vitest required).
 */

export { blockCases } from "./blocks.js"
export { buildCaseGraph, type CaseGraph } from "./caseGraph.js"
export { conformanceCases } from "./cases.js"
export { compareTensor, defaultTolerances, hostValues, type Tolerance } from "./compare.js"
export {
  compareDeviceSampling,
  countHostTraffic,
  type HostTraffic,
  type SamplingComparison,
  stubUNet,
} from "./deviceSampling.js"
export { drawInput } from "./draw.js"
export { finiteDifferenceMismatch, runFiniteDifferenceChecks } from "./finiteDifferences.js"
export { type Golden, type GoldenTensor, goldenFolder, loadGolden, relativeError } from "./golden.js"
export {
  type GoldenBuild,
  type GoldenCase,
  type GoldenModel,
  goldenCase,
  goldenModels,
  goldenProblems,
  type ModelGoldenOptions,
  manifestShapes,
  runModelGoldens,
} from "./modelGoldens.js"
export type { InputKind, InputSpec, OpCase } from "./opCase.js"
export {
  allCases,
  backendRequired,
  type ConformanceOptions,
  checkCase,
  runConformance,
  runTrainingSteps,
} from "./runConformance.js"
export { hashedUniform, synthetic, syntheticFeeds } from "./syntheticWeights.js"
export { trainingStepGraph, trainingStepInputs, trainingStepState } from "./trainingStep.js"
