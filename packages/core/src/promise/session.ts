import { Effect, Exit, type Layer, ManagedRuntime, Scope } from "effect"
import { Backend, type BackendInfo, type DeviceBuffer } from "../backend/Backend.js"
import type { Graph } from "../graph/graph.js"
import { layer as referenceLayer } from "../reference/ReferenceBackend.js"
import type { HostTensor } from "../tensor/hostTensor.js"

/** A compiled graph for callers who don't use Effect. */
export interface CompiledGraph {
  run(
    inputs: Readonly<Record<string, HostTensor | DeviceBuffer>>,
    states?: Readonly<Record<string, DeviceBuffer>>,
  ): Promise<Record<string, HostTensor>>
}

/** A backend held open for Promise-style use; `dispose()` releases every buffer and program it made. */
export interface Session {
  describe(): Promise<BackendInfo>
  upload(tensor: HostTensor): Promise<DeviceBuffer>
  download(buffer: DeviceBuffer): Promise<HostTensor>
  compile(graph: Graph): Promise<CompiledGraph>
  dispose(): Promise<void>
}

/**
 * Opens a backend (the reference executor by default) behind Promises. Failures reject with the same
 * typed errors the Effect API fails with.
 */
export const openSession = async <E>(
  layer: Layer.Layer<Backend, E> = referenceLayer as Layer.Layer<Backend, E>,
): Promise<Session> => {
  const runtime = ManagedRuntime.make(layer)
  const scope = await runtime.runPromise(Scope.make())
  const inScope = <A, Err>(effect: Effect.Effect<A, Err, Backend | Scope.Scope>): Promise<A> =>
    runtime.runPromise(Effect.provideService(effect, Scope.Scope, scope))
  const backend = await runtime.runPromise(Effect.map(Backend, (b) => b))
  return {
    describe: () => runtime.runPromise(backend.describe),
    upload: (tensor) => inScope(backend.upload(tensor)),
    download: (buffer) => runtime.runPromise(backend.download(buffer)),
    compile: async (graph) => {
      const program = await inScope(backend.compile(graph))
      return { run: (inputs, states) => runtime.runPromise(program.run(inputs, states)) }
    },
    dispose: async () => {
      await runtime.runPromise(Scope.close(scope, Exit.void))
      await runtime.dispose()
    },
  }
}
