import {
  type BackendError,
  BackendExecutionError,
  BackendUnavailable,
  DeviceLost,
  DeviceOutOfMemory,
  DTypeError,
  KernelNotImplemented,
  ProgramInputError,
  ShapeError,
} from "../errors.js"

const typed = [
  ShapeError,
  DTypeError,
  BackendUnavailable,
  KernelNotImplemented,
  DeviceOutOfMemory,
  DeviceLost,
  ProgramInputError,
  BackendExecutionError,
] as const

/**
 * A failure thrown inside a backend as the error callers see: danlu's own typed errors cross `compile`
 * and `run` as themselves (a `ShapeError` keeps its tag and shapes); anything else becomes
 * `BackendExecutionError`, its message after `context` (what the backend was doing, if anything).
 */
export const asBackendError = (
  cause: unknown,
  backend: string,
  context: string,
  op: string | undefined = undefined,
): BackendError =>
  typed.some((kind) => cause instanceof kind)
    ? (cause as BackendError)
    : new BackendExecutionError({
        backend,
        op,
        detail: `${context}${context === "" ? "" : ": "}${cause instanceof Error ? cause.message : String(cause)}`,
      })
