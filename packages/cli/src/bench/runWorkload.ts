import { Backend, type DeviceBuffer } from "@danlu/core"
import { Effect } from "effect"
import { benchWeight, type Workload } from "./workloads.js"

/** What one workload measured on one backend. */
export interface WorkloadTiming {
  /** Seconds to compile the graph (lowering and the backend's own compiler). */
  readonly compileSeconds: number
  /** The first run, which also plans memory and warms caches. */
  readonly firstMs: number
  /** Median of the timed runs after the first. */
  readonly medianMs: number
  readonly runs: number
}

const median = (values: ReadonlyArray<number>): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const now = Effect.sync(() => performance.now())

/**
 * Uploads the workload's weights and states, compiles it, runs it once, then `rounds` more times. Updated states
 * (a training step's LoRA and moments) stay on the device, so each round is a real next step.
 */
export const runWorkload = (
  workload: Workload,
  rounds: number,
): Effect.Effect<WorkloadTiming, unknown, Backend> =>
  Effect.scoped(
    Effect.gen(function* () {
      const backend = yield* Backend
      const states: Record<string, DeviceBuffer> = {}
      for (const [i, entry] of workload.weights.entries())
        states[entry.key] = yield* backend.upload(benchWeight(entry, i + 1))
      for (const [name, host] of Object.entries(workload.states)) states[name] = yield* backend.upload(host)
      const compileStart = yield* now
      const program = yield* backend.compile(workload.graph)
      const compiled = yield* now
      yield* program.run(workload.inputs, states)
      const firstEnd = yield* now
      const times: Array<number> = []
      for (let i = 0; i < rounds; i++) {
        const start = yield* now
        yield* program.run(workload.inputs, states)
        times.push((yield* now) - start)
      }
      return {
        compileSeconds: (compiled - compileStart) / 1000,
        firstMs: firstEnd - compiled,
        medianMs: times.length > 0 ? median(times) : firstEnd - compiled,
        runs: rounds,
      }
    }),
  )
