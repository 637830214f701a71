export { LoraFormatError } from "./errors.js"
export { type ImportedLora, type ImportLoraOptions, importLora, type LoraFileFormat } from "./importLora.js"
export {
  aliasTable,
  kohyaName,
  moduleAliases,
  normalizeModuleName,
  type UNetLoraNaming,
  unetNamingOf,
} from "./keys.js"
export {
  type KohyaMetadataOptions,
  kohyaMetadata,
  kohyaTensors,
  type LoraSaveDType,
  writeKohyaLora,
} from "./kohyaFile.js"
export { loraDelta, mergeLora } from "./merge.js"
export { type LoraModuleWeights, loraAlphaName, loraDownName, loraUpName } from "./moduleWeights.js"
export {
  type LoraForwardHook,
  type LoraModule,
  LoraNetwork,
  type LoraNetworkOptions,
  layerId,
} from "./network.js"
export { kohyaTarget, type LoraShape, type LoraTargetOptions, type LoraTargets } from "./targets.js"
