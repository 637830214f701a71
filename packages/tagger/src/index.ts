export {
  backupFileName,
  readCaptionFile,
  saveCaptionBackup,
  type UndoResult,
  undoCaptionChanges,
  writeCaptionFile,
} from "./captions/captionBackup.js"
export { captionPathFor, defaultCaptionExtension } from "./captions/captionPath.js"
export { dedupeTags, formatCaption, parseCaption } from "./captions/captionText.js"
export { type ExistingCaptions, mergeCaption } from "./captions/mergeCaption.js"
export {
  type CaptionedImage,
  type CaptionFolderOptions,
  readCaptionedImages,
} from "./editing/captionedImages.js"
export {
  type CaptionChange,
  type CaptionEdit,
  describeChange,
  type EditCaptionsOptions,
  type EditReport,
  editCaptions,
  writeCaptionChanges,
} from "./editing/editCaptions.js"
export {
  type ConceptCandidates,
  defaultPruneShare,
  type PruneOptions,
  type PruneReport,
  pruneConceptTags,
} from "./editing/pruneConceptTags.js"
export { addTags, dedupe, moveToFront, removeTags, replaceTag, type TagEdit } from "./editing/tagEdits.js"
export {
  countTagFrequency,
  type TagCount,
  type TagFrequencyReport,
  type TagGroupFrequency,
  tagFrequency,
} from "./editing/tagFrequency.js"
export {
  type ChannelValues,
  clipImageMean,
  clipImageStd,
  defaultEmbedderCopyDistance,
  embedderInput,
  type ImageEmbedderOptions,
  imagenetMean,
  imagenetStd,
  loadImageEmbedder,
} from "./embedding/onnxImageEmbedder.js"
export {
  ExecutionProviderUnavailable,
  NothingToUndo,
  type TaggerError,
  TaggerFileError,
  TaggerInputError,
  TaggerModelError,
  type TaggerOption,
} from "./errors.js"
export { parseCsv } from "./labels/csv.js"
export { parseSelectedTags, type TagCategory, type TagLabel, type TagLabels } from "./labels/selectedTags.js"
export { defaultExecutionProvider, type ExecutionProvider } from "./model/executionProvider.js"
export { type LoadModelOptions, loadWd14Model, type Wd14Model } from "./model/wd14Model.js"
export { readWd14Input } from "./preprocess/readWd14Input.js"
export {
  padToSquare,
  type RgbPixels,
  resizeSquare,
  wd14Input,
  writeBgrFloat,
} from "./preprocess/wd14Input.js"
export type { TagProgress } from "./promise.js"
export * as promise from "./promise.js"
export { loadTagLabels } from "./tagging/loadTagLabels.js"
export {
  type TagFolderOptions,
  type TagFolderReport,
  tagFolder,
} from "./tagging/tagFolder.js"
export {
  openWd14Tagger,
  Wd14Tagger,
  type Wd14TaggerOptions,
  type Wd14TaggerShape,
} from "./tagging/wd14Tagger.js"
export {
  escapeForPrompt,
  formatTag,
  type TagFormat,
  tagKey,
  underscoresToSpaces,
  unescapePrompt,
} from "./tags/formatTag.js"
export { kaomoji } from "./tags/kaomoji.js"
export {
  defaultCharacterThreshold,
  defaultGeneralThreshold,
  type ScoredTag,
  scoreTags,
  selectTags,
  type TagOrder,
  type TagSelection,
} from "./tags/selectTags.js"
