import type { Effect } from "effect"
import type { ByteSink } from "./byteSource.js"
import type { CheckpointFormatError, FileAccessError } from "./errors.js"
import { writeSafetensors } from "./safetensors.js"
import type { TensorFile } from "./tensorFile.js"

/**
 * Writes any opened tensor file as safetensors, keeping every tensor's name, dtype and values (strided views
 * become contiguous). Metadata is carried over; `extraMetadata` is added on top.
 */
export const convertToSafetensors = (
  file: TensorFile,
  sink: ByteSink,
  extraMetadata: Readonly<Record<string, string>> = {},
): Effect.Effect<void, CheckpointFormatError | FileAccessError> =>
  writeSafetensors(sink, {
    tensors: file.tensors,
    read: file.read,
    metadata: { ...file.metadata, ...extraMetadata },
  })
