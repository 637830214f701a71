import { Data } from "effect"

/** An optimizer that cannot be built as configured: unknown `optimizer_type`, or an `optimizer_args` entry it does not take. */
export class OptimizerConfigError extends Data.TaggedError("OptimizerConfigError")<{
  /** The optimizer_type as given. */
  readonly optimizer: string
  /** The optimizer_args key at fault, when one is. */
  readonly argument?: string
  readonly detail: string
}> {
  override get message(): string {
    return this.argument === undefined
      ? `optimizer ${this.optimizer}: ${this.detail}`
      : `optimizer ${this.optimizer}: ${this.argument}: ${this.detail}`
  }
}

/** An LR schedule that cannot run as configured: unknown name, or options it refuses (kohya raises on the same). */
export class LrScheduleConfigError extends Data.TaggedError("LrScheduleConfigError")<{
  readonly schedule: string
  readonly detail: string
}> {
  override get message(): string {
    return `lr_scheduler ${this.schedule}: ${this.detail}`
  }
}
