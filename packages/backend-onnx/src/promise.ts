import type { BackendInfo, DeviceBuffer, Graph, HostTensor, Program } from "@danlu/core"
import { Effect, Exit, Scope } from "effect"
import type { OnnxBackendConfig } from "./backend/config.js"
import { makeOnnxBackend } from "./backend/onnxBackend.js"

/**
 * The backend for callers without Effect. Every method rejects with core's tagged errors
 * (`BackendUnavailable`, `ProgramInputError`, `BackendExecutionError`, …), each with a one-line `message`.
 */
export interface PromiseOnnxBackend {
  readonly describe: () => Promise<BackendInfo>
  /** Copies host data into a buffer that programs read as input or state (kept until `close()`). */
  readonly upload: (tensor: HostTensor) => Promise<DeviceBuffer>
  readonly download: (buffer: DeviceBuffer) => Promise<HostTensor>
  readonly compile: (graph: Graph) => Promise<PromiseProgram>
  /** Releases every session and buffer of this backend. */
  readonly close: () => Promise<void>
}

export interface PromiseProgram extends Pick<Program, "inputs" | "states" | "outputs"> {
  readonly run: (
    inputs: Readonly<Record<string, HostTensor | DeviceBuffer>>,
    states?: Readonly<Record<string, DeviceBuffer>>,
  ) => Promise<Record<string, HostTensor>>
  /** Lets the backend drop the session once no other program of the same graph shape uses it. */
  readonly release: () => Promise<void>
}

/** Creates an ONNX Runtime backend (nothing native loads until the first call that needs it). */
export const createOnnxBackend = async (config: OnnxBackendConfig = {}): Promise<PromiseOnnxBackend> => {
  const scope = Effect.runSync(Scope.make())
  const backend = await Effect.runPromise(Scope.provide(scope)(makeOnnxBackend(config)))
  return {
    describe: () => Effect.runPromise(backend.describe),
    upload: (tensor) => Effect.runPromise(Scope.provide(scope)(backend.upload(tensor))),
    download: (buffer) => Effect.runPromise(backend.download(buffer)),
    compile: async (graph) => {
      const programScope = Effect.runSync(Scope.fork(scope))
      try {
        const program = await Effect.runPromise(Scope.provide(programScope)(backend.compile(graph)))
        return {
          inputs: program.inputs,
          states: program.states,
          outputs: program.outputs,
          run: (inputs, states) => Effect.runPromise(program.run(inputs, states)),
          release: () => Effect.runPromise(Scope.close(programScope, Exit.void)),
        }
      } catch (error) {
        await Effect.runPromise(Scope.close(programScope, Exit.void))
        throw error
      }
    },
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}
