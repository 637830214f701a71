import { Effect } from "effect"
import type { ByteSource } from "./byteSource.js"
import { CheckpointFormatError, type FileAccessError, type PickleRefused } from "./errors.js"
import { openTorchZip } from "./pickle/torchCheckpoint.js"
import { looksLikeZip } from "./pickle/zip.js"
import { openSafetensors } from "./safetensors.js"
import type { TensorFile } from "./tensorFile.js"

/**
 * Opens a checkpoint or LoRA file by its content, not its extension: a zip is a `torch.save` checkpoint,
 * anything else is tried as safetensors. Pre-1.6 PyTorch files (a bare pickle stream) are refused with advice.
 */
export const openTensorFile = (
  source: ByteSource,
): Effect.Effect<TensorFile, CheckpointFormatError | PickleRefused | FileAccessError> =>
  Effect.gen(function* () {
    if (source.size === 0)
      return yield* new CheckpointFormatError({ file: source.name, detail: "the file is empty" })
    const prefix = yield* source.read(0, Math.min(8, source.size))
    if (looksLikeZip(prefix)) return yield* openTorchZip(source)
    // torch < 1.6 starts with pickle protocol 2 and the LONG1 magic number 0x1950a86a20f9469cfc6c
    if (prefix[0] === 0x80 && prefix[1] === 0x02 && prefix[2] === 0x8a && prefix[3] === 0x0a) {
      return yield* new CheckpointFormatError({
        file: source.name,
        detail:
          "this is a legacy PyTorch file (saved before PyTorch 1.6, not a zip), which is not supported; re-save it with torch.save in a current PyTorch or convert it to .safetensors",
      })
    }
    // A safetensors file starts with its header length as a little-endian u64, whose top bytes are zero
    // for any real header, so eight printable characters mean a text file (JSON, a caption, an HTML page).
    if (
      prefix.length === 8 &&
      prefix.every((b) => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f))
    ) {
      const start = new TextDecoder().decode(prefix).trim()
      return yield* new CheckpointFormatError({
        file: source.name,
        detail: `this is a text file (it starts with "${start}"), not a model: safetensors and .ckpt files are binary`,
      })
    }
    return yield* openSafetensors(source)
  })
