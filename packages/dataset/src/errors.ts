import { Data } from "effect"

/**
 * Problems of `prepareDataset`'s output folder that an option fixes, for callers to name their own fix:
 * another `out` for the first two, `replaceChangedCaptions` (or another `out`) for the last.
 */
export type DatasetProblem = "output-inside-source" | "output-not-prepared" | "captions-changed"

/** A dataset problem the user can fix: a missing folder, an unreadable file, a bad option. */
export class DatasetError extends Data.TaggedError("DatasetError")<{
  readonly message: string
  readonly path?: string
  readonly problem?: DatasetProblem
}> {}

/** The error's own message when it has one, so a user sees what sharp or the OS said. */
export const describeCause = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)

/** sharp's reason for not decoding an image, in words a user can act on. */
export const describeImageFailure = (cause: unknown): string => {
  const message = describeCause(cause)
  if (/failOn|premature end|truncated|corrupt|read error/i.test(message))
    return "damaged or truncated image data"
  if (message.includes("unsupported image format")) return "not an image, or a format danlu cannot read"
  return message
}
