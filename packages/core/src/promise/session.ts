import { Effect, Exit, type Layer, ManagedRuntime, Scope } from "effect"
import { Backend, type BackendInfo, type DeviceBuffer, type Program } from "../backend/Backend.js"
import type { Graph } from "../graph/graph.js"
import { layer as referenceLayer } from "../reference/ReferenceBackend.js"
import type { HostTensor } from "../tensor/hostTensor.js"

/** A compiled graph for callers who don't use Effect. */
export interface CompiledGraph extends Pick<Program, "inputs" | "states" | "outputs"> {
  run(
    inputs: Readonly<Record<string, HostTensor | DeviceBuffer>>,
    states?: Readonly<Record<string, DeviceBuffer>>,
  ): Promise<Record<string, HostTensor>>
  /** Frees what the program holds on the device; `close()` does it for every program left. */
  release(): Promise<void>
}

/** A backend held open for Promise-style use; `close()` releases every buffer and program it made. */
export interface Session {
  describe(): Promise<BackendInfo>
  /** Copies host data into a device buffer that programs read as input or state (kept until `close()`). */
  upload(tensor: HostTensor): Promise<DeviceBuffer>
  download(buffer: DeviceBuffer): Promise<HostTensor>
  compile(graph: Graph): Promise<CompiledGraph>
  close(): Promise<void>
}

/**
 * Opens a backend layer (the reference executor by default) behind Promises — the Promise API of every
 * backend package. Failures reject with the same typed errors the Effect API fails with, each with a
 * one-line `message`.
 */
export const openSession = async <E>(
  layer: Layer.Layer<Backend, E> = referenceLayer as Layer.Layer<Backend, E>,
): Promise<Session> => {
  const runtime = ManagedRuntime.make(layer)
  const scope = Effect.runSync(Scope.make())
  const backend = await runtime.runPromise(Effect.map(Backend, (b) => b)).catch(async (error: unknown) => {
    await runtime.dispose()
    throw error
  })
  const within = <A, Err>(target: Scope.Scope, effect: Effect.Effect<A, Err, Scope.Scope>): Promise<A> =>
    runtime.runPromise(Scope.provide(target)(effect))
  return {
    describe: () => runtime.runPromise(backend.describe),
    upload: (tensor) => within(scope, backend.upload(tensor)),
    download: (buffer) => runtime.runPromise(backend.download(buffer)),
    compile: async (graph) => {
      const programScope = Effect.runSync(Scope.fork(scope))
      const closeScope = () => runtime.runPromise(Scope.close(programScope, Exit.void))
      const program = await within(programScope, backend.compile(graph)).catch(async (error: unknown) => {
        await closeScope()
        throw error
      })
      // `program.release` frees it now; closing the scope alone would keep it cached, idle.
      const release = async () => {
        if (program.release) await runtime.runPromise(program.release)
        await closeScope()
      }
      return {
        inputs: program.inputs,
        states: program.states,
        outputs: program.outputs,
        run: (inputs, states) => runtime.runPromise(program.run(inputs, states)),
        release,
      }
    },
    close: async () => {
      await runtime.runPromise(Scope.close(scope, Exit.void))
      await runtime.dispose()
    },
  }
}
