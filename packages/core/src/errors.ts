import { Data } from "effect"
import type { DType } from "./tensor/dtype.js"
import { formatShape, type Shape } from "./tensor/shape.js"

/** An op was given shapes it cannot combine. Raised while recording, so it points at the model line. */
export class ShapeError extends Data.TaggedError("ShapeError")<{
  readonly op: string
  readonly detail: string
  readonly shapes: ReadonlyArray<Shape>
}> {
  override get message(): string {
    return `[${this.op}] ${this.detail} (shapes ${this.shapes.map(formatShape).join(", ")})`
  }
}

/** An op was given dtypes it cannot combine, or a dtype it does not take. */
export class DTypeError extends Data.TaggedError("DTypeError")<{
  readonly op: string
  readonly detail: string
  readonly dtypes: ReadonlyArray<DType>
}> {
  override get message(): string {
    return `[${this.op}] ${this.detail} (dtypes ${this.dtypes.join(", ")})`
  }
}

/** A backend cannot run here: no device, no native module, a missing provider. */
export class BackendUnavailable extends Data.TaggedError("BackendUnavailable")<{
  readonly backend: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.backend} is unavailable: ${this.reason}`
  }
}

/** A graph uses an op the backend has no kernel for and no decomposition of. */
export class KernelNotImplemented extends Data.TaggedError("KernelNotImplemented")<{
  readonly op: string
  readonly backend: string
}> {
  override get message(): string {
    return `[${this.op}] has no kernel on ${this.backend}`
  }
}

/**
 * The device could not hold what was asked of it. `requestedBytes` is the allocation that failed where the
 * backend knows it; `lower` names what the caller can reduce (the CLI adds the flag that does it).
 */
export class DeviceOutOfMemory extends Data.TaggedError("DeviceOutOfMemory")<{
  readonly backend: string
  readonly requestedBytes: number | undefined
  readonly detail: string
  readonly lower: string
}> {
  override get message(): string {
    const bytes = this.requestedBytes === undefined ? "" : ` allocating ${this.requestedBytes} bytes`
    return `${this.backend} ran out of memory${bytes}: ${this.detail}; lower ${this.lower}`
  }
}

/** What a caller lowers when a step does not fit: every activation scales with these. */
export const lowerForMemory = "the batch size or the resolution"

/** The device went away (driver reset, GPU removed, device destroyed); nothing on it can be used again. */
export class DeviceLost extends Data.TaggedError("DeviceLost")<{
  readonly backend: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.backend} lost its device: ${this.reason}`
  }
}

/** A program was run with a missing, extra or mis-shaped input or state value. */
export class ProgramInputError extends Data.TaggedError("ProgramInputError")<{
  readonly name: string
  readonly detail: string
}> {
  override get message(): string {
    return `program input "${this.name}": ${this.detail}`
  }
}

/** A backend failed while compiling or running a graph; names the node when it is known. */
export class BackendExecutionError extends Data.TaggedError("BackendExecutionError")<{
  readonly backend: string
  readonly op: string | undefined
  readonly detail: string
}> {
  override get message(): string {
    return `${this.backend}${this.op ? ` [${this.op}]` : ""}: ${this.detail}`
  }
}

export type BackendError =
  | ShapeError
  | DTypeError
  | BackendUnavailable
  | KernelNotImplemented
  | DeviceOutOfMemory
  | DeviceLost
  | ProgramInputError
  | BackendExecutionError
