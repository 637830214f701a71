// The progress service, for the packages above dataset (the tagger) that report into it.
export {
  Progress,
  type ProgressEvent,
  type ProgressShape,
  type ProgressUpdate,
  progressCounter,
  withProgress,
} from "@danlu/core"
export {
  type BucketAssigner,
  type BucketAssignment,
  bucketAssigner,
  fixedSizeAssigner,
  hasBucket,
} from "./buckets/assignBucket.js"
export {
  type BucketOptions,
  defaultBucketOptions,
  makeBucketResolutions,
  type Size,
} from "./buckets/bucketResolutions.js"
export { type CropOrigin, cropOrigin } from "./buckets/crop.js"
export {
  type BucketedSample,
  balanceRegularization,
  type EpochPlanOptions,
  type PlannedBatch,
  type PlannedSample,
  planEpoch,
  stepsPerEpoch,
} from "./buckets/epochPlan.js"
export { defaultSizing, formatSize, makeAssigner, parseSize, type Sizing } from "./buckets/sizing.js"
export { type CaptionOptions, processCaption } from "./captions/captionPipeline.js"
export {
  type CaptionLookup,
  captionCandidates,
  captionTooBig,
  maxCaptionBytes,
  readCaption,
} from "./captions/readCaption.js"
export { tagFrequency } from "./captions/tagFrequency.js"
export { smallSetThreshold } from "./check/advice.js"
export { type CheckOptions, checkDataset } from "./check/checkDataset.js"
export type * from "./check/checkReport.js"
export { formatCheckReport } from "./check/formatCheckReport.js"
export { type ImageInspection, inspectImage } from "./check/inspectImage.js"
export { hammingDistance, perceptualHash } from "./check/perceptualHash.js"
export { checkDatasetConfig } from "./config/checkDatasetConfig.js"
export {
  type DatasetBlueprint,
  type DatasetConfig,
  type DatasetSubset,
  parseDatasetConfig,
} from "./config/datasetConfig.js"
export * from "./diagnose/diagnoseGrid.js"
export * from "./diagnose/formatDiagnosis.js"
export * from "./diagnose/imageStats.js"
export * from "./diagnose/nearestImage.js"
export * from "./diagnose/remedies.js"
export { type ImageSignature, imageSignature, structuralDistance } from "./diagnose/structuralDistance.js"
export * from "./diagnose/verdict.js"
export { DatasetError, type DatasetProblem } from "./errors.js"
export { type ConceptName, parseConceptName } from "./folders/conceptFolder.js"
export {
  type Concept,
  type IgnoredFolder,
  scanTrainingFolder,
  type TrainingFolder,
} from "./folders/trainingFolder.js"
export * from "./generate/generateImages.js"
export * from "./generate/generator.js"
export * from "./generate/imageFiles.js"
export * from "./grid/drawGrid.js"
export * from "./grid/enlargeCell.js"
export * from "./grid/gridFont.js"
export * from "./grid/gridIndex.js"
export { parseColour } from "./image/colour.js"
export {
  decodeImageRgb,
  decodeImageRgba,
  type ImageSource,
  openImage,
  type RawImage,
  type Rgb,
  type RgbaImage,
  type RgbImage,
  readImageRgb,
  readImageRgba,
  white,
} from "./image/decode.js"
export { isTrainableImage, otherImageExtensions, trainableExtensions } from "./image/formats.js"
export { type FolderListing, type ListImagesOptions, listImages, scanFolder } from "./image/listImages.js"
export { temporarySuffix, writeFileAtomic } from "./io/atomicWrite.js"
export {
  alphaToLatentMask,
  type CachedLatents,
  type LatentCache,
  type LatentEncoder,
  type LatentRequest,
  type LatentTensor,
  makeLatentCache,
} from "./latent/latentCache.js"
export { type LatentKeyParts, latentCacheKey } from "./latent/latentKey.js"
export { flipHorizontally, type PixelTensor, toPixelTensor } from "./latent/pixels.js"
export * from "./png/infotext.js"
export * from "./png/pngChunks.js"
export * from "./png/pngText.js"
export {
  manifestName,
  type PreparedEntry,
  type PrepareOptions,
  type PrepareResult,
  prepareDataset,
} from "./prepare/prepareDataset.js"
export {
  type ImageTransform,
  type OutputFormat,
  type PreparedImage,
  prepareImage,
  toBucket,
} from "./prepare/prepareImage.js"
export * as promise from "./promise.js"
export { createRng, type Rng, shuffled } from "./random/rng.js"
export { datasetsMetadata } from "./train/datasetsMetadata.js"
export { finetune } from "./train/finetune.js"
export { crc32c, eventFileName, scalarEvent, tfRecord, versionEvent } from "./train/tensorboard.js"
export { type TrainRunHooks, train } from "./train/train.js"
export {
  type BucketInfo,
  type DatasetSummary,
  foldersAsDataset,
  loadTrainingData,
  subsetFolder,
  type TrainingData,
  type TrainingDataOptions,
  type TrainingDatasetSpec,
  type TrainingImage,
  type TrainingSubset,
} from "./train/trainingData.js"
export { sizingOf } from "./train/trainingSetup.js"
export {
  logFolderName,
  lossCurveSvg,
  openTrainLogs,
  type TrainLogs,
  writeLossCurve,
} from "./train/trainLogs.js"
export type { TrainRunEvent } from "./train/trainRunEvents.js"
export * from "./xyz/epochFiles.js"
export * from "./xyz/runXyz.js"
export * from "./xyz/xyzPlan.js"
