import { Context, Effect } from "effect"

/** A value a script can read from a progress event's JSON. */
export type ProgressValue = string | number | boolean | null

/** How far a long operation has got: `done` of `total` units of one task. */
export interface ProgressUpdate {
  readonly type: "progress"
  /** What is running: "train", "latents", "check", "prepare", "tag", "generate", "xyz". */
  readonly task: string
  readonly done: number
  readonly total: number
  /** What is counted, singular: "step", "image", "cell". */
  readonly unit: string
  /** Units per second, as the producer measures it (training leaves out compile time). */
  readonly rate?: number | undefined
  readonly etaSeconds?: number | undefined
  /** The task's own values in words (loss, learning rate, the file just done), for a human. */
  readonly detail?: string | undefined
  /** The same values for scripts (`loss`, `lr/unet`, `epoch`, …). */
  readonly fields?: Readonly<Record<string, ProgressValue>> | undefined
}

/** A one-off fact while a task runs (a file saved, a program compiled); printed above any bar. */
export interface ProgressNote {
  readonly type: "note"
  readonly task: string
  readonly message: string
  readonly fields?: Readonly<Record<string, ProgressValue>> | undefined
}

export type ProgressEvent = ProgressUpdate | ProgressNote

export interface ProgressShape {
  readonly emit: (event: ProgressEvent) => void
}

/**
 * Where every long operation reports how far it has got: the training loop, the latent cache, dataset
 * check and prepare, tagging, drawing and XYZ grids. Nothing is reported unless a caller provides it
 * (the CLI's renderer, a Promise API's `onProgress`).
 */
export const Progress = Context.Reference<ProgressShape>("@danlu/core/Progress", {
  defaultValue: () => ({ emit: () => {} }),
})

/** Runs `effect` with its progress going to `emit`. */
export const withProgress =
  (emit: (event: ProgressEvent) => void) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(effect, Progress, { emit })

/**
 * Counts one task's units and times them: each report carries the rate since the counter was made (units
 * already done when it was made, such as cells drawn by an earlier run, do not count toward the rate) and
 * the time left at that rate.
 */
export const progressCounter = (
  progress: ProgressShape,
  task: { readonly task: string; readonly unit: string; readonly total: number; readonly done?: number },
  now: () => number = () => performance.now() / 1000,
) => {
  const started = now()
  const initial = task.done ?? 0
  let done = initial
  const report = (detail?: string, fields?: Readonly<Record<string, ProgressValue>>) => {
    const seconds = now() - started
    const rate = done > initial && seconds > 0 ? (done - initial) / seconds : undefined
    progress.emit({
      type: "progress",
      task: task.task,
      done,
      total: task.total,
      unit: task.unit,
      ...(rate === undefined ? {} : { rate, etaSeconds: (task.total - done) / rate }),
      ...(detail === undefined ? {} : { detail }),
      ...(fields === undefined ? {} : { fields }),
    })
  }
  return {
    /** Reports where the task starts. */
    start: () => report(),
    /** Counts one more unit done and reports. */
    advance: (detail?: string, fields?: Readonly<Record<string, ProgressValue>>) => {
      done++
      report(detail, fields)
    },
  }
}
