export {
  type BaseFamily,
  familyFromContextDim,
  familyFromKohyaVersion,
  familyFromModelspec,
  familyLabel,
  type Prediction,
} from "./baseVersion.js"
export { type CheckpointInfo, type CheckpointLayout, detectCheckpoint } from "./checkpoint.js"
export { type ComponentName, ldmComponentOf, ldmPrefixes } from "./components.js"
export { type DiffusersParts, detectDiffusersFolder } from "./diffusersFolder.js"
export { inspectTensorFile, type ModelInspection } from "./inspect.js"
export { inspectLora, type LoraAlgorithm, type LoraInfo, looksLikeLora } from "./lora.js"
export { type LoraKey, type LoraKeyStyle, type LoraRole, loraComponentOf, parseLoraKey } from "./loraKeys.js"
export { ensureLoraMatchesBase } from "./mismatch.js"
export { type TensorTally, tally } from "./parameterCount.js"
export { detectPrediction, type PredictionEvidence } from "./prediction.js"
export { type UNetNaming, type UNetSignature, unetSignature } from "./unetSignature.js"
