import { Backend, type BackendInfo } from "@danlu/core"
import { Console, Effect, Exit } from "effect"
import { Command } from "effect/cli"
import { type BackendEntry, backendEntries } from "../backends/registry.js"
import { switchFlag } from "./switchFlag.js"

type Probe = { readonly name: string; readonly summary: string } & (
  | { readonly available: true; readonly info: BackendInfo }
  | { readonly available: false; readonly reason: string }
)

const firstLine = (text: string): string =>
  text
    .split("\n")
    .find((line) => line.trim().length > 0)
    ?.trim() ?? text

const reasonOf = (error: unknown): string =>
  firstLine(
    typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error),
  )

/** Loads one backend and asks it to describe itself; any failure becomes a one-line reason. */
export const probeBackend = (entry: BackendEntry): Effect.Effect<Probe> =>
  Effect.tryPromise({ try: entry.load, catch: (error) => error }).pipe(
    Effect.flatMap((layer) =>
      Effect.flatMap(Backend, (backend) => backend.describe).pipe(Effect.provide(layer)),
    ),
    Effect.exit,
    Effect.map((exit): Probe => {
      const base = { name: entry.name, summary: entry.summary }
      if (Exit.isSuccess(exit)) return { ...base, available: true, info: exit.value }
      const failure = exit.cause.reasons[0]
      const error =
        failure && "error" in failure
          ? failure.error
          : failure && "defect" in failure
            ? failure.defect
            : exit.cause
      return { ...base, available: false, reason: reasonOf(error) }
    }),
  )

const formatBytes = (bytes: number): string =>
  bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`

/** The human-readable listing: one block per backend, one line when it cannot run here. */
export const formatProbes = (probes: ReadonlyArray<Probe>): string =>
  probes
    .map((probe) => {
      if (!probe.available) return `✗ ${probe.name} — unavailable: ${probe.reason}`
      const { devices, capabilities } = probe.info
      const lines = [`✓ ${probe.name} — ${probe.summary}`]
      for (const device of devices) {
        const memory = device.memoryBytes ? `, ${formatBytes(device.memoryBytes)}` : ""
        lines.push(`    device: ${device.name}${memory}${device.detail ? ` (${device.detail})` : ""}`)
      }
      lines.push(`    dtypes: ${capabilities.dtypes.join(", ")}`)
      lines.push(
        `    fused:  ${capabilities.fused.length > 0 ? capabilities.fused.join(", ") : "none (composites run decomposed)"}`,
      )
      lines.push(`    largest buffer: ${formatBytes(capabilities.maxBufferBytes)}`)
      return lines.join("\n")
    })
    .join("\n")

export const backends = Command.make(
  "backends",
  {
    json: switchFlag("json", "Print the listing as JSON"),
  },
  ({ json }) =>
    Effect.gen(function* () {
      const probes = yield* Effect.forEach(backendEntries, probeBackend)
      yield* Console.log(json ? JSON.stringify(probes, null, 2) : formatProbes(probes))
    }),
).pipe(
  Command.withDescription(
    "炼丹炉: list the compute backends danlu can load here, their devices, dtypes and memory.",
  ),
)
