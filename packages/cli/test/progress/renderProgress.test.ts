import type { ProgressEvent } from "@danlu/core"
import { describe, expect, it } from "vitest"
import { clock, type ProgressMode, renderProgress } from "../../src/progress/renderProgress.js"

const update = (task: string, done: number, total: number, extra: Partial<ProgressEvent> = {}) =>
  ({
    type: "progress",
    task,
    done,
    total,
    unit: task === "train" ? "step" : "image",
    ...extra,
  }) as ProgressEvent

/** Renders `events`, one per simulated second unless `times` says when each arrives. */
const render = (mode: ProgressMode, events: ReadonlyArray<ProgressEvent>, times?: ReadonlyArray<number>) => {
  let out = ""
  let t = 0
  const show = renderProgress({ mode, write: (text) => (out += text), now: () => t })
  events.forEach((event, i) => {
    t = times?.[i] ?? i
    show(event)
  })
  return out
}

const training: ReadonlyArray<ProgressEvent> = [
  { type: "note", task: "train", message: "training: 4 steps in 2 epochs" },
  update("train", 1, 4, { rate: 0.5, etaSeconds: 6, detail: "epoch 1/2 loss 0.2000" }),
  update("train", 2, 4, { rate: 2, etaSeconds: 1, detail: "epoch 1/2 loss 0.1000" }),
  { type: "note", task: "train", message: "saved LoRA: a.safetensors" },
  update("train", 3, 4, { rate: 2, etaSeconds: 0.5 }),
  update("train", 4, 4, { rate: 2, etaSeconds: 0 }),
]

describe("renderProgress", () => {
  it("json: one parseable line per event, the events unchanged", () => {
    const lines = render("json", training).trimEnd().split("\n")
    expect(lines.map((line) => JSON.parse(line))).toEqual(training)
  })

  it("plain: each note a line, progress at whole-percent changes and the last, with rate and ETA", () => {
    expect(render("plain", training)).toBe(
      [
        "training: 4 steps in 2 epochs",
        "train: step 1/4 · epoch 1/2 loss 0.2000 · 2.00 s/step · ETA 0:06",
        "train: step 2/4 · epoch 1/2 loss 0.1000 · 2.00 step/s · ETA 0:01",
        "saved LoRA: a.safetensors",
        "train: step 3/4 · 2.00 step/s · ETA 0:01",
        "train: step 4/4 · 2.00 step/s",
        "",
      ].join("\n"),
    )
  })

  it("plain: a long task writes a line per whole percent, not per unit, and skips its start", () => {
    const events = Array.from({ length: 1001 }, (_, done) => update("check", done, 1000))
    const lines = render("plain", events).trimEnd().split("\n")
    // The first update (0 %), then 1 %, 2 %, … 100 %.
    expect(lines).toHaveLength(101)
    expect(lines.slice(0, 3)).toEqual(["check: image 1/1000", "check: image 10/1000", "check: image 20/1000"])
    expect(lines.at(-1)).toBe("check: image 1000/1000")
  })

  it("plain: a slow task still writes a line every 30 s within one percent", () => {
    const events = [1, 2, 3, 4].map((done) => update("train", done, 10_000))
    expect(render("plain", events, [0, 29, 31, 40])).toBe("train: step 1/10000\ntrain: step 3/10000\n")
  })

  it("tty: redraws one line, prints notes above it, and leaves the finished line", () => {
    const out = render("tty", training)
    expect(out).toBe(
      [
        "training: 4 steps in 2 epochs\n",
        "\rtrain [█████░░░░░░░░░░░░░░░] step 1/4 · epoch 1/2 loss 0.2000 · 2.00 s/step · ETA 0:06\u001b[K",
        "\rtrain [██████████░░░░░░░░░░] step 2/4 · epoch 1/2 loss 0.1000 · 2.00 step/s · ETA 0:01\u001b[K",
        "\r\u001b[Ksaved LoRA: a.safetensors\n",
        "\rtrain [██████████░░░░░░░░░░] step 2/4 · epoch 1/2 loss 0.1000 · 2.00 step/s · ETA 0:01\u001b[K",
        "\rtrain [███████████████░░░░░] step 3/4 · 2.00 step/s · ETA 0:01\u001b[K",
        "\rtrain [████████████████████] step 4/4 · 2.00 step/s\u001b[K\n",
      ].join(""),
    )
  })

  it("tty: nested tasks share the line; an inner task that finishes leaves it without a line of its own", () => {
    const events = [
      update("xyz", 0, 2),
      update("generate", 1, 2),
      update("generate", 2, 2),
      update("xyz", 1, 2),
      update("xyz", 2, 2),
    ]
    const redraws = render("tty", events).split("\r").filter(Boolean)
    expect(redraws).toEqual([
      "xyz [░░░░░░░░░░░░░░░░░░░░] image 0/2\u001b[K",
      "xyz [░░░░░░░░░░░░░░░░░░░░] image 0/2 │ generate [██████████░░░░░░░░░░] image 1/2\u001b[K",
      "xyz [░░░░░░░░░░░░░░░░░░░░] image 0/2\u001b[K",
      "xyz [██████████░░░░░░░░░░] image 1/2\u001b[K",
      "xyz [████████████████████] image 2/2\u001b[K\n",
    ])
  })

  it("tty: redraws at most ten times a second, but always draws a task's last update", () => {
    const events = Array.from({ length: 101 }, (_, done) => update("prepare", done, 100))
    const times = events.map((_, i) => i * 0.01)
    const redraws = render("tty", events, times).split("\r").filter(Boolean)
    expect(redraws).toHaveLength(11)
    expect(redraws.at(-1)).toBe("prepare [████████████████████] image 100/100\u001b[K\n")
  })

  it("writes times as m:ss and h:mm:ss", () => {
    expect([clock(5), clock(65.4), clock(3723), clock(Number.POSITIVE_INFINITY)]).toEqual([
      "0:05",
      "1:05",
      "1:02:03",
      "?",
    ])
  })
})
