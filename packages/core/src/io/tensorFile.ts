import type { Effect } from "effect"
import type { CheckpointFormatError, FileAccessError } from "./errors.js"
import type { StoredTensor, TensorInfo } from "./storedTensor.js"

/** Which container a tensor file came from. */
export type TensorFileFormat = "safetensors" | "pytorch-zip"

/**
 * An opened checkpoint or LoRA file: every tensor's name, type and shape are known; data is read on demand,
 * one tensor at a time, so a multi-gigabyte file costs only its header until a tensor is asked for.
 */
export interface TensorFile {
  readonly name: string
  readonly format: TensorFileFormat
  /** String metadata (`__metadata__` of safetensors; empty for PyTorch files). */
  readonly metadata: Readonly<Record<string, string>>
  /** Tensors in file order. */
  readonly tensors: ReadonlyArray<TensorInfo>
  readonly read: (name: string) => Effect.Effect<StoredTensor, CheckpointFormatError | FileAccessError>
}
