import type { BackendInfo, DeviceBuffer, Graph, HostTensor, Program } from "@danlu/core"
import { Effect, Exit, Scope } from "effect"
import { makeWebGpuBackend } from "./backend/WebGpuBackend.js"
import { acquireDevice, type WebGpuOptions } from "./device/acquireDevice.js"
import { makeGpuContext } from "./device/gpuContext.js"

/**
 * The backend for callers without Effect. Every method rejects with core's tagged errors
 * (`BackendUnavailable`, `ProgramInputError`, `BackendExecutionError`, …), each with a one-line `message`.
 */
export interface PromiseWebGpuBackend {
  readonly describe: () => Promise<BackendInfo>
  /** Copies host data into a device buffer that programs read as input or state (kept until `close()`). */
  readonly upload: (tensor: HostTensor) => Promise<DeviceBuffer>
  readonly download: (buffer: DeviceBuffer) => Promise<HostTensor>
  readonly compile: (graph: Graph) => Promise<PromiseProgram>
  /** Releases every program and buffer, then the device. */
  readonly close: () => Promise<void>
}

export interface PromiseProgram extends Pick<Program, "inputs" | "states" | "outputs"> {
  readonly run: (
    inputs: Readonly<Record<string, HostTensor | DeviceBuffer>>,
    states?: Readonly<Record<string, DeviceBuffer>>,
  ) => Promise<Record<string, HostTensor>>
  /** Frees the program's buffers. */
  readonly release: () => Promise<void>
}

/** Acquires a WebGPU adapter and device; rejects with `BackendUnavailable` where there is none. */
export const createWebGpuBackend = async (options: WebGpuOptions = {}): Promise<PromiseWebGpuBackend> => {
  const scope = Effect.runSync(Scope.make())
  const backend = await Effect.runPromise(
    Scope.provide(scope)(
      Effect.map(acquireDevice(options), (acquired) => makeWebGpuBackend(makeGpuContext(acquired))),
    ),
  ).catch(async (error: unknown) => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  })
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
