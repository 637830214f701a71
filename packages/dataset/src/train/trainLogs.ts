import { appendFileSync, mkdirSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { stepScalars, type TrainEvent } from "@danlu/core"
import sharp from "sharp"
import { writeFileAtomic } from "../io/atomicWrite.js"
import { eventFileName, scalarEvent, tfRecord, versionEvent } from "./tensorboard.js"

/** Local time as kohya writes it into names: `YYYYMMDDhhmmss`. */
export const compactTimestamp = (date: Date): string => {
  const pad = (n: number) => String(n).padStart(2, "0")
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`
}

/** A run's log folder as kohya names it: `<logging_dir>/<log_prefix><YYYYMMDDhhmmss>`. */
export const logFolderName = (prefix: string, date: Date): string => `${prefix}${compactTimestamp(date)}`

export interface TrainLogs {
  readonly folder: string
  /** Records an event: steps and epochs go to the JSONL log and the TensorBoard file. */
  readonly record: (event: TrainEvent) => void
  /** The step losses so far, for the loss curve. */
  readonly losses: ReadonlyArray<{ readonly step: number; readonly loss: number; readonly average: number }>
}

/**
 * JSONL and TensorBoard logs of a run, with kohya's scalar names (`loss/current`, `loss/average`,
 * `loss/epoch`, `lr/unet`, `lr/textencoder`). Appends are synchronous and small, so a crash loses at
 * most the line being written.
 */
export const openTrainLogs = (loggingDir: string, prefix = "", date = new Date()): TrainLogs => {
  const folder = join(loggingDir, logFolderName(prefix, date))
  mkdirSync(folder, { recursive: true })
  const now = () => Date.now() / 1000
  const events = join(folder, eventFileName(now(), hostname()))
  const jsonl = join(folder, "train.jsonl")
  appendFileSync(events, tfRecord(versionEvent(now())))
  const losses: Array<{ step: number; loss: number; average: number }> = []
  return {
    folder,
    losses,
    record: (event) => {
      if (event.type === "step") {
        appendFileSync(events, tfRecord(scalarEvent(now(), event.step, stepScalars(event))))
        losses.push({ step: event.step, loss: event.loss, average: event.averageLoss })
      } else if (event.type === "epoch") {
        const scalars: Record<string, number> = { "loss/epoch": event.averageLoss }
        if (event.validationLoss !== undefined) scalars["loss/validation"] = event.validationLoss
        appendFileSync(events, tfRecord(scalarEvent(now(), event.epoch, scalars)))
      }
      appendFileSync(jsonl, `${JSON.stringify({ time: now(), ...event })}\n`)
    },
  }
}

const escapeXml = (text: string) => text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)

/** The loss curve as an SVG: step losses in light grey, the running average in blue. */
export const lossCurveSvg = (
  losses: ReadonlyArray<{ readonly step: number; readonly loss: number; readonly average: number }>,
  title: string,
  width = 800,
  height = 400,
): string => {
  const margin = { left: 60, right: 20, top: 30, bottom: 40 }
  const plotW = width - margin.left - margin.right
  const plotH = height - margin.top - margin.bottom
  const steps = losses.map((l) => l.step)
  const values = losses.flatMap((l) => [l.loss, l.average]).filter(Number.isFinite)
  const minStep = Math.min(...steps, 0)
  const maxStep = Math.max(...steps, 1)
  const lo = values.length ? Math.min(...values) : 0
  const hi = values.length ? Math.max(...values) : 1
  const span = hi - lo || 1
  const x = (s: number) => margin.left + ((s - minStep) / (maxStep - minStep || 1)) * plotW
  const y = (v: number) => margin.top + (1 - (v - lo) / span) * plotH
  const line = (pick: (l: (typeof losses)[number]) => number) =>
    losses.map((l) => `${x(l.step).toFixed(1)},${y(pick(l)).toFixed(1)}`).join(" ")
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * span)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="20" font-family="sans-serif" font-size="14" text-anchor="middle">${escapeXml(title)}</text>
<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${margin.top + plotH}" stroke="black"/>
<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}" stroke="black"/>
${ticks.map((t) => `<text x="${margin.left - 5}" y="${y(t) + 4}" font-family="sans-serif" font-size="10" text-anchor="end">${t.toPrecision(3)}</text>`).join("\n")}
<text x="${margin.left + plotW / 2}" y="${height - 8}" font-family="sans-serif" font-size="11" text-anchor="middle">step (${minStep}–${maxStep})</text>
<polyline fill="none" stroke="#bbbbbb" stroke-width="1" points="${line((l) => l.loss)}"/>
<polyline fill="none" stroke="#1f6fd1" stroke-width="2" points="${line((l) => l.average)}"/>
</svg>`
}

/** Writes the loss curve PNG atomically. */
export const writeLossCurve = async (
  path: string,
  losses: ReadonlyArray<{ readonly step: number; readonly loss: number; readonly average: number }>,
  title: string,
): Promise<void> => {
  const png = await sharp(Buffer.from(lossCurveSvg(losses, title)))
    .png()
    .toBuffer()
  await writeFileAtomic(path, png)
}
