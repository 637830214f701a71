import { Effect } from "effect"
import { ProgramInputError } from "../errors.js"
import type { AnalyzedGraph, TensorSpec } from "../graph/graph.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import type { DeviceBuffer } from "./Backend.js"
import { bindingProblem } from "./bindingProblem.js"

/** How a backend takes one run's values: host data for an input, and its own device buffers. */
export interface RunBinding<Buf> {
  /** A host input for this run (written into its slot, or wrapped for the runtime). */
  stage(spec: TensorSpec, host: HostTensor): Buf
  /** The backend's own storage of a device buffer; another backend's buffer is refused. */
  own(buffer: DeviceBuffer, name: string): Effect.Effect<Buf, ProgramInputError>
  /** Puts the value of an input or a state where the run reads it. */
  bind(kind: "input" | "state", spec: TensorSpec, buffer: Buf): void
}

/**
 * Binds one run's inputs and states, refusing a missing or mis-shaped one with the same message on every
 * backend: host inputs go through `stage`, device buffers through `own`, each value then to `bind`.
 */
export const bindRun = <Buf>(
  analyzed: Pick<AnalyzedGraph, "inputs" | "states">,
  inputs: Readonly<Record<string, HostTensor | DeviceBuffer>>,
  states: Readonly<Record<string, DeviceBuffer>>,
  binding: RunBinding<Buf>,
): Effect.Effect<void, ProgramInputError> =>
  Effect.gen(function* () {
    for (const spec of analyzed.inputs) {
      const value = inputs[spec.name]
      const problem = bindingProblem("input", spec, value)
      if (problem) return yield* problem
      binding.bind(
        "input",
        spec,
        "data" in value! ? binding.stage(spec, value as HostTensor) : yield* binding.own(value!, spec.name),
      )
    }
    for (const spec of analyzed.states) {
      const value = states[spec.name]
      const problem = bindingProblem("state", spec, value)
      if (problem) return yield* problem
      binding.bind("state", spec, yield* binding.own(value!, spec.name))
    }
  })

/** The refusal of a buffer that another backend (or another device) made. */
export const foreignBuffer = (buffer: DeviceBuffer, name: string, backend: string): ProgramInputError =>
  new ProgramInputError({ name, detail: `the buffer belongs to ${buffer.backend}, not ${backend}` })
