import { Data } from "effect"

/** A LoRA file that cannot be used with this base model: unknown keys, missing halves, wrong shapes. */
export class LoraFormatError extends Data.TaggedError("LoraFormatError")<{
  readonly file: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.file}: ${this.detail}`
  }
}
