import { Data } from "effect"

/** A dataset problem the user can fix: a missing folder, an unreadable file, a bad option. */
export class DatasetError extends Data.TaggedError("DatasetError")<{
  readonly message: string
  readonly path?: string
}> {}

/** The error's own message when it has one, so a user sees what sharp or the OS said. */
export const describeCause = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)
