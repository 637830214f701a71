import { Data } from "effect"

/** A checkpoint or LoRA file is not what it claims to be: bad header, bad offsets, truncated, unknown layout. */
export class CheckpointFormatError extends Data.TaggedError("CheckpointFormatError")<{
  readonly file: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.file}: ${this.detail}`
  }
}

/**
 * A pickle asked for something a state dict never needs (a function call, an unknown class, an opcode we do
 * not interpret). Nothing was executed: the reader only interprets a fixed list of opcodes and globals.
 */
export class PickleRefused extends Data.TaggedError("PickleRefused")<{
  readonly file: string
  readonly found: string
}> {
  override get message(): string {
    return `${this.file}: refused to load this pickle: it uses ${this.found}, which a tensor checkpoint never needs (nothing was executed). Convert it with a trusted tool or get a .safetensors file`
  }
}

/** A file or folder could not be read or written (missing, unreadable, disk full). */
export class FileAccessError extends Data.TaggedError("FileAccessError")<{
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.path}: ${this.detail}`
  }
}

/** A write would replace an existing file and the caller did not allow it (`overwrite` would). */
export class OutputExists extends Data.TaggedError("OutputExists")<{
  readonly path: string
}> {
  override get message(): string {
    return `${this.path} already exists`
  }
}

/** A LoRA was trained for a different base model family than the one it is being used with. */
export class ModelMismatch extends Data.TaggedError("ModelMismatch")<{
  readonly lora: string
  readonly base: string
  readonly loraVersion: string
  readonly baseVersion: string
}> {
  override get message(): string {
    return `${this.lora} is a LoRA for ${this.loraVersion} but ${this.base} is ${this.baseVersion}; use a LoRA made for ${this.baseVersion}, or a base model of the ${this.loraVersion} family`
  }
}

export type ModelFileError = CheckpointFormatError | PickleRefused | FileAccessError
