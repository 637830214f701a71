import { Effect } from "effect"
import type { ByteSource } from "./byteSource.js"
import { CheckpointFormatError, type FileAccessError, type PickleRefused } from "./errors.js"
import { openTorchZip } from "./pickle/torchCheckpoint.js"
import { looksLikeZip } from "./pickle/zip.js"
import { openSafetensors } from "./safetensors.js"
import { headerLength } from "./safetensorsHeader.js"
import type { TensorFile } from "./tensorFile.js"

/**
 * A bare pickle stream opens with PROTO (0x80) and a protocol of 2 to 5, which are also the first bytes
 * of some valid safetensors header lengths (0x280 is one); only a length no header can have decides.
 */
const isPickleStream = (prefix: Uint8Array, fileSize: number): boolean => {
  if (prefix[0] !== 0x80 || prefix[1] === undefined || prefix[1] < 2 || prefix[1] > 5) return false
  try {
    headerLength(prefix, fileSize)
    return false
  } catch {
    return true
  }
}

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
    if (isPickleStream(prefix, source.size)) {
      return yield* new CheckpointFormatError({
        file: source.name,
        detail:
          "this is a legacy PyTorch pickle checkpoint (saved before PyTorch 1.6, not a zip), which danlu does not read: load it and save it again with torch.save in PyTorch 1.6 or newer, or convert it to .safetensors",
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
