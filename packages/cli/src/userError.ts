import { Data } from "effect"

/**
 * A mistake the user can fix (a missing file, a bad flag value). The CLI prints its message as one
 * line and exits with code 1, without a stack trace.
 */
export class UserError extends Data.TaggedError("UserError")<{ readonly message: string }> {}

/** Errors that carry a plain `message` meant for the user: every tagged error of the danlu packages. */
export const isUserFacing = (error: unknown): error is { readonly _tag: string; readonly message: string } =>
  typeof error === "object" &&
  error !== null &&
  "_tag" in error &&
  typeof (error as { _tag: unknown })._tag === "string" &&
  typeof (error as { message?: unknown }).message === "string"
