import { Effect } from "effect"
import type { ProgramInputError } from "../errors.js"
import type { AnalyzedGraph } from "../graph/graph.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import type { DeviceBuffer } from "./Backend.js"
import { bindingProblem } from "./bindingProblem.js"

/** Where a plan keeps the buffers of its `input` and `state` sources. */
export interface SourceSlots {
  readonly analyzed: AnalyzedGraph
  readonly inputSlots: ReadonlyMap<string, number>
  readonly stateSlots: ReadonlyMap<string, number>
}

/**
 * Puts one run's inputs and states into their slots, refusing a missing or mis-shaped one: host data
 * goes through `stage` (an upload for this run), device buffers through `own` (which refuses another
 * backend's buffer).
 */
export const bindRun = <Buf>(
  plan: SourceSlots,
  slots: Array<Buf | undefined>,
  inputs: Readonly<Record<string, HostTensor | DeviceBuffer>>,
  states: Readonly<Record<string, DeviceBuffer>>,
  stage: (name: string, host: HostTensor) => Buf,
  own: (buffer: DeviceBuffer, name: string) => Effect.Effect<Buf, ProgramInputError>,
): Effect.Effect<void, ProgramInputError> =>
  Effect.gen(function* () {
    for (const spec of plan.analyzed.inputs) {
      const value = inputs[spec.name]
      const problem = bindingProblem("input", spec, value)
      if (problem) return yield* problem
      slots[plan.inputSlots.get(spec.name)!] =
        "data" in value!
          ? stage(spec.name, value as HostTensor)
          : yield* own(value as DeviceBuffer, spec.name)
    }
    for (const spec of plan.analyzed.states) {
      const value = states[spec.name]
      const problem = bindingProblem("state", spec, value)
      if (problem) return yield* problem
      slots[plan.stateSlots.get(spec.name)!] = yield* own(value!, spec.name)
    }
  })
