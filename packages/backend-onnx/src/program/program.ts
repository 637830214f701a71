import { type AnalyzedGraph, type BackendError, bindRun, type HostTensor, type Program } from "@danlu/core"
import { Effect } from "effect"
import type * as Ort from "onnxruntime-node"
import type { ModelBinding } from "../lower/lowerGraph.js"
import { mapOrtError } from "../runtime/ortErrors.js"
import type { OrtModule } from "../runtime/ortRuntime.js"
import { OnnxBuffer, ownBuffer, toHostTensor, toOrtTensor } from "./deviceBuffer.js"

/** A compiled graph: one ONNX Runtime session run once per `run()`. */
export const makeProgram = (
  ort: OrtModule,
  analyzed: AnalyzedGraph,
  binding: ModelBinding,
  session: Ort.InferenceSession,
): Program => {
  const run: Program["run"] = (inputs, states = {}) =>
    Effect.gen(function* () {
      const feeds: Record<string, Ort.Tensor> = {}
      const stateBuffers = new Map<string, OnnxBuffer>()
      yield* bindRun<OnnxBuffer>(analyzed, inputs, states, {
        stage: (spec, host) => new OnnxBuffer(spec.dtype, spec.shape, toOrtTensor(ort, host, false)),
        own: ownBuffer,
        bind: (kind, spec, buffer) => {
          if (kind === "state") stateBuffers.set(spec.name, buffer)
          feeds[(kind === "input" ? binding.inputNames : binding.stateNames).get(spec.name)!] = buffer.current
        },
      })
      const results = yield* Effect.tryPromise({
        try: () => session.run(feeds),
        catch: (cause): BackendError => mapOrtError(cause, binding, "run"),
      })
      const outputs: Record<string, HostTensor> = {}
      for (const spec of analyzed.outputs) {
        const tensor = results[binding.outputNames.get(spec.name)!] as Ort.Tensor
        outputs[spec.name] = toHostTensor(tensor, spec.dtype, spec.shape, false)
      }
      // onnxruntime-node copies every output into a new ArrayBuffer, preallocated or not (measured in
      // bench/onnx/state.bench.mjs), so the update's own array becomes the state's value.
      // A bf16 update comes out as f32 values and goes back in as bits, the form the next run takes.
      for (const spec of analyzed.updates) {
        const updated = results[binding.updateNames.get(spec.name)!] as Ort.Tensor
        stateBuffers.get(spec.name)!.current =
          spec.dtype === "bf16"
            ? toOrtTensor(ort, toHostTensor(updated, spec.dtype, spec.shape, false), false)
            : updated
      }
      return outputs
    })
  return { analyzed, inputs: analyzed.inputs, states: analyzed.states, outputs: analyzed.outputs, run }
}
