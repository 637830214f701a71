import { cpus, totalmem } from "node:os"
import { writeFileAtomic } from "@danlu/dataset"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { type BackendEntry, backendEntries } from "../backends/registry.js"
import { benchChartPng, formatMs } from "../bench/benchChart.js"
import { runWorkload } from "../bench/runWorkload.js"
import { type BenchSize, benchSizes, buildWorkload, workloadNames } from "../bench/workloads.js"
import { UserError } from "../userError.js"
import { probeBackend } from "./backends.js"
import { switchFlag } from "./switchFlag.js"

/** One workload on one backend, as `--json` prints it. */
export interface BenchResult {
  readonly backend: string
  readonly device: string
  readonly workload: string
  readonly compileSeconds: number
  readonly firstMs: number
  readonly medianMs: number
  /** Runs per second at the median time. */
  readonly perSecond: number
}

export interface BenchReport {
  readonly size: BenchSize
  readonly machine: { readonly cpu: string; readonly cores: number; readonly memoryGiB: number }
  readonly results: ReadonlyArray<BenchResult>
  /** Backends not measured, each with why (not installed, cannot run this size, failed). */
  readonly skipped: ReadonlyArray<{ readonly backend: string; readonly reason: string }>
}

const describeError = (error: unknown): string =>
  (typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error))
    .split("\n")[0]!
    .trim()

/** Every workload on one backend; a backend that cannot load or run a workload is reported, not fatal. */
const benchBackend = (entry: BackendEntry, size: BenchSize, rounds: number) =>
  Effect.gen(function* () {
    const probe = yield* probeBackend(entry)
    if (!probe.available) return { results: [], skipped: [{ backend: entry.name, reason: probe.reason }] }
    if (entry.name === "reference" && size !== "tiny")
      return {
        results: [],
        skipped: [{ backend: entry.name, reason: "the f64 reference runs the tiny size only" }],
      }
    const layer = yield* Effect.promise(entry.load)
    const device = probe.info.devices[0]?.name ?? entry.name
    const results: Array<BenchResult> = []
    const skipped: Array<{ backend: string; reason: string }> = []
    for (const name of workloadNames) {
      yield* Console.error(`${entry.name}: ${name}…`)
      const timing = yield* runWorkload(buildWorkload(name, size), rounds).pipe(
        Effect.provide(layer),
        Effect.result,
      )
      if (timing._tag === "Failure") {
        skipped.push({ backend: entry.name, reason: `${name} failed: ${describeError(timing.failure)}` })
        continue
      }
      const { compileSeconds, firstMs, medianMs } = timing.success
      results.push({
        backend: entry.name,
        device,
        workload: name,
        compileSeconds,
        firstMs,
        medianMs,
        perSecond: 1000 / medianMs,
      })
    }
    return { results, skipped }
  })

const pad = (cells: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)))
  return cells
    .map((row) =>
      row
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
}

/** The human-readable table, then one line per backend not measured. */
export const formatBench = (report: BenchReport): string => {
  const header = ["backend", "device", "workload", "compile", "first run", "median", "runs/s"]
  const rows = report.results.map((r) => [
    r.backend,
    r.device,
    r.workload,
    `${r.compileSeconds.toFixed(2)} s`,
    formatMs(r.firstMs),
    formatMs(r.medianMs),
    r.perSecond >= 10 ? r.perSecond.toFixed(0) : r.perSecond.toPrecision(3),
  ])
  const { cpu, cores, memoryGiB } = report.machine
  return [
    `size ${report.size}; ${cpu}, ${cores} cores, ${memoryGiB} GiB`,
    ...(rows.length > 0 ? [pad([header, ...rows])] : []),
    ...report.skipped.map((s) => `✗ ${s.backend}: ${s.reason}`),
  ].join("\n")
}

const list = (text: string): Array<string> =>
  text
    .split(",")
    .map((value) => value.trim())
    .filter((value) => value !== "")

export const bench = Command.make(
  "bench",
  {
    size: Flag.Literals("size", benchSizes).pipe(
      Flag.withDefault("tiny" as const),
      Flag.withDescription(
        "tiny: the tiny SD1 model, seconds; sd15: the full SD1.5 at 512² (minutes, ~16 GiB)",
      ),
    ),
    backend: Flag.String("backend").pipe(
      Flag.optional,
      Flag.withDescription("backends to measure, comma-separated (default: every backend found)"),
    ),
    rounds: Flag.Int("rounds").pipe(
      Flag.withDefault(3),
      Flag.withDescription("timed runs per workload after the first (the median is reported)"),
    ),
    json: switchFlag("json", "Print the results as JSON"),
    chart: Flag.String("chart").pipe(Flag.optional, Flag.withDescription("write a bar chart PNG here")),
  },
  ({ size, backend, rounds, json, chart }) =>
    Effect.gen(function* () {
      if (rounds < 1) return yield* new UserError({ message: `--rounds must be at least 1, got ${rounds}` })
      const wanted = Option.map(backend, list)
      const entries = Option.match(wanted, {
        onNone: () => backendEntries,
        onSome: (names) => backendEntries.filter((entry) => names.includes(entry.name)),
      })
      const unknown = Option.getOrElse(wanted, () => []).filter(
        (name) => !backendEntries.some((entry) => entry.name === name),
      )
      if (unknown.length > 0)
        return yield* new UserError({
          message: `unknown backend ${unknown.join(", ")}; use ${backendEntries.map((e) => e.name).join(", ")}`,
        })
      const measured = yield* Effect.forEach(entries, (entry) => benchBackend(entry, size, rounds))
      const report: BenchReport = {
        size,
        machine: {
          cpu: cpus()[0]?.model.trim() ?? "unknown",
          cores: cpus().length,
          memoryGiB: Math.round(totalmem() / 2 ** 30),
        },
        results: measured.flatMap((m) => m.results),
        skipped: measured.flatMap((m) => m.skipped),
      }
      yield* Console.log(json ? JSON.stringify(report, null, 2) : formatBench(report))
      if (Option.isSome(chart)) {
        const { cpu, cores, memoryGiB } = report.machine
        const png = yield* Effect.promise(() =>
          benchChartPng(
            `danlu bench, ${size} — ${cpu}, ${cores} cores, ${memoryGiB} GiB`,
            report.results.map((r) => ({
              workload: r.workload,
              backend: `${r.backend} (${r.device})`,
              ms: r.medianMs,
            })),
          ),
        )
        yield* Effect.tryPromise({
          try: () => writeFileAtomic(chart.value, png),
          catch: (cause) =>
            new UserError({ message: `cannot write ${chart.value}: ${describeError(cause)}` }),
        })
      }
    }),
).pipe(
  Command.withDescription(
    "Time the standard workloads (UNet forward, LoRA training step, VAE decode, one sampling step) on every backend here.",
  ),
)
