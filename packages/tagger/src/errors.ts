import { Data } from "effect"

/** The option of `tagFolder`/`pruneConceptTags` whose value would fix a `TaggerInputError`. */
export type TaggerOption = "model" | "tags" | "trigger" | "recursive" | "embedder"

/** A tagger input the user can fix: a missing model or CSV, a malformed CSV, a bad option value. */
export class TaggerInputError extends Data.TaggedError("TaggerInputError")<{
  readonly message: string
  /** The option to set, when one fixes it (callers name it their way: the CLI as a flag). */
  readonly option?: TaggerOption
}> {}

/** The ONNX model could not be loaded or run, or does not follow the WD1.4 tagger contract. */
export class TaggerModelError extends Data.TaggedError("TaggerModelError")<{ readonly message: string }> {}

/** The requested ONNX Runtime execution provider is not usable in this install. */
export class ExecutionProviderUnavailable extends Data.TaggedError("ExecutionProviderUnavailable")<{
  readonly provider: string
  readonly message: string
}> {}

/** Reading or writing a caption, an image or the caption backup failed. */
export class TaggerFileError extends Data.TaggedError("TaggerFileError")<{
  readonly path: string
  readonly message: string
}> {}

/** `danlu tags undo` found nothing to restore. */
export class NothingToUndo extends Data.TaggedError("NothingToUndo")<{ readonly message: string }> {}

export type TaggerError =
  | TaggerInputError
  | TaggerModelError
  | ExecutionProviderUnavailable
  | TaggerFileError
  | NothingToUndo
