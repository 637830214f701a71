import { Progress, type ProgressEvent, type TrainEvent } from "@danlu/core"
import { Effect } from "effect"

/** What the caller of `train` hears besides the loop's own events. */
export type TrainRunEvent =
  | TrainEvent
  | { readonly type: "sample"; readonly path: string }
  | { readonly type: "model"; readonly path: string; readonly family: string; readonly prediction: string }
  /** With `cache_text_encoder_outputs`: the distinct captions encoded before the first step. */
  | { readonly type: "captions"; readonly encoded: number }
  | {
      readonly type: "dataset"
      readonly images: number
      readonly regImages: number
      readonly buckets: number
      readonly batchesPerEpoch: number
    }

type RunOnlyEvent = Exclude<TrainRunEvent, TrainEvent>

/** A run's own event (not the loop's, which core reports itself) as a progress note of the "train" task. */
export const trainRunNote = (event: RunOnlyEvent): ProgressEvent => {
  const note = (message: string): ProgressEvent => ({
    type: "note",
    task: "train",
    message,
    fields: { event: event.type, ...Object.fromEntries(Object.entries(event).filter(([k]) => k !== "type")) },
  })
  switch (event.type) {
    case "model":
      return note(`base model: ${event.path} (${event.family}, ${event.prediction})`)
    case "captions":
      return note(`text encoder outputs cached for ${event.encoded} distinct caption(s)`)
    case "dataset":
      return note(
        `dataset: ${event.images} images${event.regImages ? ` + ${event.regImages} regularisation` : ""}, ${event.buckets} bucket(s), ${event.batchesPerEpoch} batches per epoch`,
      )
    case "sample":
      return note(`sample: ${event.path}`)
  }
}

/** Tells a run's own event to the caller's `emit` and, as a progress note, to the Progress service. */
export const runEventTeller = (emit: (event: TrainRunEvent) => void) =>
  Effect.gen(function* () {
    const progress = yield* Progress
    return (event: RunOnlyEvent) => {
      emit(event)
      progress.emit(trainRunNote(event))
    }
  })
