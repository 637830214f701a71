import type { ProgressEvent, ProgressUpdate } from "@danlu/core"

/** A redrawn bar on a terminal, plain lines in logs and pipes, one JSON object per event for scripts. */
export type ProgressMode = "tty" | "plain" | "json"

export interface RenderProgressOptions {
  readonly mode: ProgressMode
  readonly write: (text: string) => void
  /** Seconds, injectable for tests. */
  readonly now?: () => number
  /** The terminal's width: a longer bar line is cut so that redrawing it stays on one line. */
  readonly columns?: number | undefined
}

/** m:ss or h:mm:ss. */
export const clock = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "?"
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const pad = (n: number) => String(n).padStart(2, "0")
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`
}

const speed = (rate: number, unit: string) =>
  rate >= 1 ? `${rate.toFixed(2)} ${unit}/s` : `${(1 / rate).toFixed(2)} s/${unit}`

/** "step 5/12 · epoch 1/3 loss 0.1234 · 2.50 step/s · ETA 0:03" */
const updateText = (event: ProgressUpdate) =>
  [
    `${event.unit} ${event.done}/${event.total}`,
    event.detail,
    event.rate === undefined || event.rate <= 0 ? undefined : speed(event.rate, event.unit),
    event.etaSeconds === undefined || event.done >= event.total
      ? undefined
      : `ETA ${clock(event.etaSeconds)}`,
  ]
    .filter((part) => part !== undefined && part !== "")
    .join(" · ")

const bar = (done: number, total: number, width = 20) => {
  const filled = total <= 0 ? width : Math.min(width, Math.round((done / total) * width))
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}]`
}

/** Plain lines: a task's progress is written when its whole percent changes, at most every so often otherwise. */
const plainEverySeconds = 30
/** A terminal is redrawn at most this often, except for a task's last update. */
const ttyEverySeconds = 0.1

/**
 * The CLI's one progress renderer, for every command. On a terminal, the unfinished tasks share one
 * redrawn line (an XYZ grid's cells and the steps of the cell being drawn) and a task that finishes alone
 * leaves its last line; notes are printed above it. In plain mode a task's progress is a line per whole
 * percent (and its last), notes a line each. In JSON mode every event is one line.
 */
export const renderProgress = (options: RenderProgressOptions): ((event: ProgressEvent) => void) => {
  const { write } = options
  const now = options.now ?? (() => performance.now() / 1000)
  if (options.mode === "json") return (event) => write(`${JSON.stringify(event)}\n`)

  if (options.mode === "plain") {
    const last = new Map<string, { percent: number; at: number }>()
    return (event) => {
      if (event.type === "note") {
        write(`${event.message}\n`)
        return
      }
      if (event.done === 0 && event.total > 0) return
      const percent = event.total > 0 ? Math.floor((100 * event.done) / event.total) : 100
      const t = now()
      const seen = last.get(event.task)
      const finished = event.done >= event.total
      if (!finished && seen !== undefined && seen.percent === percent && t - seen.at < plainEverySeconds)
        return
      last.set(event.task, { percent, at: t })
      write(`${event.task}: ${updateText(event)}\n`)
    }
  }

  const active = new Map<string, ProgressUpdate>()
  let shown = ""
  let drawnAt = Number.NEGATIVE_INFINITY
  const line = () =>
    [...active.values()]
      .map((event) => `${event.task} ${bar(event.done, event.total)} ${updateText(event)}`)
      .join(" │ ")
  const fit = (text: string) =>
    options.columns !== undefined && text.length >= options.columns
      ? `${text.slice(0, Math.max(0, options.columns - 2))}…`
      : text
  const draw = () => {
    shown = fit(line())
    drawnAt = now()
    write(`\r${shown}\u001b[K`)
  }
  return (event) => {
    if (event.type === "note") {
      if (shown !== "") write("\r\u001b[K")
      write(`${event.message}\n`)
      if (shown !== "") draw()
      return
    }
    if (event.done >= event.total) {
      active.set(event.task, event)
      if (active.size === 1) {
        draw()
        write("\n")
        shown = ""
        active.clear()
      } else {
        active.delete(event.task)
        draw()
      }
      return
    }
    active.set(event.task, event)
    if (now() - drawnAt >= ttyEverySeconds) draw()
  }
}
