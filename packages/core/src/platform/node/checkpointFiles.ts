/// <reference types="node" />
import { join } from "node:path"
import { Effect } from "effect"
import type { BackendError } from "../../errors.js"
import type { CheckpointFormatError, FileAccessError } from "../../io/errors.js"
import { writeSafetensors } from "../../io/safetensors.js"
import {
  fromHostTensor,
  type StorageDType,
  type StoredTensor,
  type TensorInfo,
  toHostTensor,
} from "../../io/storedTensor.js"
import type { TensorFile } from "../../io/tensorFile.js"
import type { DType } from "../../tensor/dtype.js"
import { castHostFloat } from "../../train/baseWeights.js"
import type { SavePoint, TrainSink } from "../../train/loop.js"
import { writeFileAtomic } from "./atomicWrite.js"
import { ensureFolder, filesTrainSink, networkFileName, type TrainFilesPlace } from "./trainFiles.js"

/** How a fine-tuned checkpoint stores its weights (kohya's `--save_precision`). */
export type CheckpointSaveDType = "F32" | "F16" | "BF16"

export interface CheckpointTrainSinkOptions extends TrainFilesPlace {
  /** The base checkpoint: every tensor that is not trained is copied from it, metadata aside. */
  readonly base: TensorFile
  /** The trained weights' state names, which are their checkpoint keys (`model.diffusion_model.…`). */
  readonly trainedStates: ReadonlyArray<string>
  /**
   * kohya's `save_precision`: the dtype of the trained weights and of the base's other model weights. Absent,
   * the trained weights keep the f32 they were trained in and every other tensor is copied byte for byte.
   */
  readonly savePrecision?: CheckpointSaveDType | undefined
  /** The file's metadata at a save point (`modelspec.*`, `ss_*`, the base's `danlu.architecture`). */
  readonly metadata: (point: SavePoint) => Record<string, string>
}

const floats: ReadonlySet<StorageDType> = new Set(["F32", "F16", "BF16"])
const hostDType: Readonly<Record<CheckpointSaveDType, DType>> = { F32: "f32", F16: "f16", BF16: "bf16" }

const stored = (tensor: StoredTensor, dtype: StorageDType): StoredTensor =>
  tensor.dtype === dtype
    ? tensor
    : fromHostTensor(castHostFloat(toHostTensor(tensor), hostDType[dtype as CheckpointSaveDType]))

/**
 * Writes the model at a save point as one single-file checkpoint in the original LDM layout, the way
 * sd-scripts' `save_stable_diffusion_checkpoint` does: the base's tensors, with the trained ones replaced.
 * Tensors are pulled one at a time (from the device or the base file), so the host never holds the model.
 */
const writeCheckpoint = (options: CheckpointTrainSinkOptions, point: SavePoint) =>
  Effect.gen(function* () {
    const trained = new Set(options.trainedStates)
    const dtypeOf = (info: TensorInfo): StorageDType =>
      trained.has(info.name)
        ? (options.savePrecision ?? "F32")
        : floats.has(info.dtype)
          ? (options.savePrecision ?? info.dtype)
          : info.dtype
    const tensors = options.base.tensors.map((info) => ({ ...info, dtype: dtypeOf(info) }))
    const dtypes = new Map(tensors.map((info) => [info.name, info.dtype]))
    const read = (
      name: string,
    ): Effect.Effect<StoredTensor, BackendError | FileAccessError | CheckpointFormatError> =>
      trained.has(name)
        ? Effect.map(point.read([name]), (values) => stored(fromHostTensor(values[name]!), dtypes.get(name)!))
        : Effect.map(options.base.read(name), (tensor) => stored(tensor, dtypes.get(name)!))
    const path = join(options.outputDir, networkFileName(options.outputName, point))
    yield* ensureFolder(options.outputDir)
    yield* writeFileAtomic(
      path,
      (sink) => writeSafetensors(sink, { metadata: options.metadata(point), tensors, read }),
      {
        existing: "replace",
      },
    )
    return path
  })

/**
 * The files of a full fine-tuning run, named as sd-scripts names them (`name.safetensors`, `name-000002…`,
 * `name-state`): checkpoints at the save points, resumable states beside them; every write is atomic.
 */
export const checkpointTrainSink = (
  options: CheckpointTrainSinkOptions,
): TrainSink<FileAccessError | CheckpointFormatError> => filesTrainSink(options, writeCheckpoint)
