/// <reference types="node" />
/**
 * The Node side of danlu's model files: file-backed byte sources, atomic writes and the file-level operations
 * built on them. Only this folder imports `node:` modules; the formats themselves live in `io/`.
 */
import { Effect } from "effect"
import type { ModelInspection } from "../../models/detect/inspect.js"
import type { AtomicWriteResult, ExistingFile } from "./atomicWrite.js"
import { convertCheckpointFile, inspectModelPath } from "./modelFiles.js"

export { type AtomicWriteResult, type ExistingFile, writeFileAtomic } from "./atomicWrite.js"
export {
  type CheckpointSaveDType,
  type CheckpointTrainSinkOptions,
  checkpointTrainSink,
} from "./checkpointFiles.js"
export { openFileSource } from "./fileSource.js"
export { convertCheckpointFile, inspectModelPath, openDiffusersFolder, openModelFile } from "./modelFiles.js"

/** Promise API: what a checkpoint, LoRA or diffusers folder is. Rejects with a tagged error (`.message` is readable). */
export const inspectModel = (path: string): Promise<ModelInspection> =>
  Effect.runPromise(inspectModelPath(path))

/** Promise API: converts a checkpoint to safetensors; refuses to replace `output` unless `overwrite` (then keeps a backup). */
export const convertCheckpoint = (
  input: string,
  output: string,
  options: { readonly overwrite?: boolean } = {},
): Promise<AtomicWriteResult> =>
  Effect.runPromise(
    convertCheckpointFile(input, output, {
      existing: (options.overwrite ? "backup" : "refuse") satisfies ExistingFile,
    }),
  )
export {
  type KohyaTrainSinkOptions,
  kohyaTrainSink,
  networkFileName,
  readTrainState,
  safetensorsHashes,
  stateFolderName,
  type TrainFilesPlace,
} from "./trainFiles.js"
