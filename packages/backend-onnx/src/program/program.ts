import {
  type AnalyzedGraph,
  type BackendError,
  bindingProblem,
  type DeviceBuffer,
  type HostTensor,
  type Program,
  ProgramInputError,
} from "@danlu/core"
import { Effect } from "effect"
import type * as Ort from "onnxruntime-node"
import type { LoweredGraph } from "../lower/lowerGraph.js"
import { mapOrtError } from "../runtime/ortErrors.js"
import { backendName, type OrtModule } from "../runtime/ortRuntime.js"
import { OnnxBuffer, toHostTensor, toOrtTensor } from "./deviceBuffer.js"

const ownBuffer = (value: DeviceBuffer, name: string): Effect.Effect<OnnxBuffer, ProgramInputError> =>
  value instanceof OnnxBuffer
    ? Effect.succeed(value)
    : Effect.fail(
        new ProgramInputError({ name, detail: `the buffer belongs to ${value.backend}, not ${backendName}` }),
      )

/** A compiled graph: one ONNX Runtime session run once per `run()`. */
export const makeProgram = (
  ort: OrtModule,
  analyzed: AnalyzedGraph,
  lowered: LoweredGraph,
  session: Ort.InferenceSession,
): Program => {
  const run: Program["run"] = (inputs, states = {}) =>
    Effect.gen(function* () {
      const feeds: Record<string, Ort.Tensor> = {}
      for (const spec of analyzed.inputs) {
        const value = inputs[spec.name]
        const problem = bindingProblem("input", spec, value)
        if (problem) return yield* problem
        feeds[lowered.inputNames.get(spec.name)!] =
          "data" in value!
            ? toOrtTensor(ort, value as HostTensor, false)
            : (yield* ownBuffer(value!, spec.name)).current
      }
      const stateBuffers = new Map<string, OnnxBuffer>()
      for (const spec of analyzed.states) {
        const value = states[spec.name]
        const problem = bindingProblem("state", spec, value)
        if (problem) return yield* problem
        const buffer = yield* ownBuffer(value!, spec.name)
        stateBuffers.set(spec.name, buffer)
        feeds[lowered.stateNames.get(spec.name)!] = buffer.current
      }
      const results = yield* Effect.tryPromise({
        try: () => session.run(feeds),
        catch: (cause): BackendError => mapOrtError(cause, lowered, "run"),
      })
      const outputs: Record<string, HostTensor> = {}
      for (const spec of analyzed.outputs) {
        const tensor = results[lowered.outputNames.get(spec.name)!] as Ort.Tensor
        outputs[spec.name] = toHostTensor(tensor, spec.dtype, spec.shape, false)
      }
      // onnxruntime-node copies every output into a new ArrayBuffer, preallocated or not (measured in
      // bench/onnx/state.bench.mjs), so the update's own array becomes the state's value.
      // A bf16 update comes out as f32 values and goes back in as bits, the form the next run takes.
      for (const spec of analyzed.updates) {
        const updated = results[lowered.updateNames.get(spec.name)!] as Ort.Tensor
        stateBuffers.get(spec.name)!.current =
          spec.dtype === "bf16"
            ? toOrtTensor(ort, toHostTensor(updated, spec.dtype, spec.shape, false), false)
            : updated
      }
      return outputs
    })
  return { analyzed, inputs: analyzed.inputs, states: analyzed.states, outputs: analyzed.outputs, run }
}
