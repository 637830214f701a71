export { gelu, quickGelu, silu } from "./activations.js"
export { causalMask, mergeHeads, multiHeadAttention, splitHeads } from "./attention.js"
export { type Conv2dOptions, conv2d } from "./conv2d.js"
export { type GroupNormOptions, groupNorm } from "./groupNorm.js"
export { inProjection } from "./inProjection.js"
export { layerNorm } from "./layerNorm.js"
export { type LinearOptions, linear } from "./linear.js"
export { checkManifest, type ManifestCheck } from "./manifest.js"
export { downsample, downsampleAsymmetric, upsample } from "./resample.js"
export { timestepEmbedding } from "./timestepEmbedding.js"
export {
  type AdapterBuild,
  type ModuleAdapter,
  type ModuleInfo,
  type WeightEntry,
  WeightScope,
  type WeightScopeOptions,
} from "./weightScope.js"
