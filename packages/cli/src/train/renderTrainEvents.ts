import type { TrainRunEvent } from "@danlu/dataset"

const clock = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "?"
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const pad = (n: number) => String(n).padStart(2, "0")
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`
}

const lrText = (lr: Readonly<Record<string, number>>) =>
  Object.entries(lr)
    .map(([group, value]) => `${group === "textencoder" ? "te" : group} ${value.toExponential(1)}`)
    .join(" ")

/**
 * How `danlu train` shows a run: a redrawn progress line on a terminal, one plain line per step in logs and
 * pipes, or one JSON object per event with `--json` (on stdout, for scripts).
 */
export const renderTrainEvents = (options: {
  readonly json: boolean
  readonly tty: boolean
  /** What the run's files are, for "saved …" lines (default "LoRA"; "checkpoint" for danlu finetune). */
  readonly saves?: string
  readonly write?: (text: string) => void
  readonly writeJson?: (text: string) => void
}): ((event: TrainRunEvent) => void) => {
  const write = options.write ?? ((text: string) => process.stderr.write(text))
  const writeJson = options.writeJson ?? ((text: string) => process.stdout.write(text))
  let onProgressLine = false
  const line = (text: string) => {
    if (onProgressLine) write("\n")
    onProgressLine = false
    write(`${text}\n`)
  }
  let epochs = 0
  return (event) => {
    if (options.json) {
      writeJson(`${JSON.stringify(event)}\n`)
      return
    }
    switch (event.type) {
      case "model":
        line(`base model: ${event.path} (${event.family}, ${event.prediction})`)
        return
      case "latents":
        if (options.tty) {
          write(`\rlatents ${event.done}/${event.total}`)
          onProgressLine = event.done < event.total
          if (event.done === event.total) write("\n")
        } else if (event.done === event.total) line(`latents: ${event.total} images encoded or cached`)
        return
      case "captions":
        line(`text encoder outputs cached for ${event.encoded} distinct caption(s)`)
        return
      case "dataset":
        line(
          `dataset: ${event.images} images${event.regImages ? ` + ${event.regImages} regularisation` : ""}, ${event.buckets} bucket(s), ${event.batchesPerEpoch} batches per epoch`,
        )
        return
      case "start":
        epochs = event.epochs
        line(
          `training: ${event.totalSteps} steps in ${event.epochs} epochs${event.startStep > 0 ? `, resuming after step ${event.startStep}` : ""}`,
        )
        return
      case "compile":
        line(`compiled the step for ${event.shape} in ${event.seconds.toFixed(1)} s`)
        return
      case "step": {
        const text = `epoch ${event.epoch}/${epochs} step ${event.step}/${event.totalSteps} loss ${event.loss.toFixed(4)} avg ${event.averageLoss.toFixed(4)} lr ${lrText(event.lr)} ${event.itPerSecond.toFixed(2)} it/s ETA ${clock(event.etaSeconds)}`
        if (options.tty) {
          const width = 20
          const filled = Math.round((event.step / event.totalSteps) * width)
          write(`\r[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${text}\u001b[K`)
          onProgressLine = true
        } else line(text)
        return
      }
      case "epoch":
        line(
          `epoch ${event.epoch} done: average loss ${event.averageLoss.toFixed(4)}${event.validationLoss === undefined ? "" : `, validation loss ${event.validationLoss.toFixed(4)}`}`,
        )
        return
      case "saved":
        line(`saved ${event.kind === "state" ? "state" : (options.saves ?? "LoRA")}: ${event.path}`)
        return
      case "sample":
        line(`sample: ${event.path}`)
        return
      case "removed":
        line(`removed (save_last_n_epochs): ${event.path}`)
        return
    }
  }
}
