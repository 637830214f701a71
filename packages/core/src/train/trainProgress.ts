import type { ProgressEvent } from "../progress/progress.js"
import { stepScalars, type TrainEvent } from "./events.js"

const lrText = (lr: Readonly<Record<string, number>>) =>
  Object.entries(lr)
    .map(([group, value]) => `${group === "textencoder" ? "te" : group} ${value.toExponential(1)}`)
    .join(" ")

/**
 * A training event as progress: each optimizer step is an update of the "train" task (epoch, loss and its
 * average, learning rates, samples/s, with kohya's scalar names for scripts); the rest are notes.
 */
export const trainProgressEvent = (event: TrainEvent, epochs: number, saves = "LoRA"): ProgressEvent => {
  const note = (message: string, fields: Record<string, string | number | null>): ProgressEvent => ({
    type: "note",
    task: "train",
    message,
    fields: { event: event.type, ...fields },
  })
  switch (event.type) {
    case "start":
      return note(
        `training: ${event.totalSteps} steps in ${event.epochs} epochs${event.startStep > 0 ? `, resuming after step ${event.startStep}` : ""}`,
        {
          totalSteps: event.totalSteps,
          epochs: event.epochs,
          batchesPerEpoch: event.batchesPerEpoch,
          startStep: event.startStep,
          startEpoch: event.startEpoch,
        },
      )
    case "compile":
      return note(`compiled the step for ${event.shape} in ${event.seconds.toFixed(1)} s`, {
        shape: event.shape,
        seconds: event.seconds,
      })
    case "step":
      return {
        type: "progress",
        task: "train",
        done: event.step,
        total: event.totalSteps,
        unit: "step",
        rate: event.itPerSecond,
        etaSeconds: event.etaSeconds,
        detail: `epoch ${event.epoch}/${epochs} loss ${event.loss.toFixed(4)} avg ${event.averageLoss.toFixed(4)} lr ${lrText(event.lr)}`,
        fields: {
          epoch: event.epoch,
          ...stepScalars(event),
          samplesPerSecond: event.samplesPerSecond,
        },
      }
    case "epoch":
      return note(
        `epoch ${event.epoch} done: average loss ${event.averageLoss.toFixed(4)}${event.validationLoss === undefined ? "" : `, validation loss ${event.validationLoss.toFixed(4)}`}`,
        {
          epoch: event.epoch,
          averageLoss: event.averageLoss,
          validationLoss: event.validationLoss ?? null,
        },
      )
    case "saved":
      return note(`saved ${event.kind === "state" ? "state" : saves}: ${event.path}`, {
        kind: event.kind,
        path: event.path,
      })
    case "removed":
      return note(`removed (save_last_n_epochs): ${event.path}`, { path: event.path })
  }
}
