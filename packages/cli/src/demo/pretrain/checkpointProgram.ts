import {
  Backend,
  type DeviceBuffer,
  type Graph,
  type HostTensor,
  type Program,
  readBaseWeight,
  type TensorFile,
} from "@danlu/core"
import { Effect } from "effect"

/** The checkpoint's weights (f32) uploaded as `program`'s states. */
export const checkpointStates = (file: TensorFile, program: Program) =>
  Effect.gen(function* () {
    const backend = yield* Backend
    const states: Record<string, DeviceBuffer> = {}
    for (const spec of program.states)
      states[spec.name] = yield* backend.upload(yield* readBaseWeight(file, spec.name, spec.shape, "f32"))
    return states
  })

/**
 * Compiles `graph` with the checkpoint's weights uploaded as its states (f32), for the pretraining's previews
 * and measures, which run the checkpoint once and need no training state; returns the program's run.
 */
export const checkpointProgram = (file: TensorFile) => (graph: Graph) =>
  Effect.gen(function* () {
    const program = yield* (yield* Backend).compile(graph)
    const states = yield* checkpointStates(file, program)
    return (inputs: Record<string, HostTensor>) => program.run(inputs, states)
  })
