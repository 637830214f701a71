// Detection reads only keys, shapes and metadata of opened files, so it ships with the file API.
export * from "../models/detect/index.js"
export {
  type BlobLike,
  type ByteSink,
  type ByteSource,
  blobSource,
  memorySink,
  memorySource,
} from "./byteSource.js"
export { convertToSafetensors } from "./convert.js"
export {
  CheckpointFormatError,
  FileAccessError,
  type ModelFileError,
  ModelMismatch,
  OutputExists,
  PickleRefused,
} from "./errors.js"
export { mergeTensorFiles } from "./mergedTensorFile.js"
export { openTensorFile } from "./openTensorFile.js"
export { openTorchZip } from "./pickle/torchCheckpoint.js"
export {
  openSafetensors,
  safetensorsHeaderBytes,
  type TensorWriteSource,
  tensorsInMemory,
  writeSafetensors,
} from "./safetensors.js"
export { maxSafetensorsHeaderBytes } from "./safetensorsHeader.js"
export {
  fromHostTensor,
  hostDTypeFor,
  isStorageDType,
  type StorageDType,
  type StoredTensor,
  storageByteSize,
  storageDTypes,
  type TensorInfo,
  tensorByteLength,
  toHostTensor,
} from "./storedTensor.js"
export type { TensorFile, TensorFileFormat } from "./tensorFile.js"
