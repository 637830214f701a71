import { Context, type Effect, type Scope } from "effect"
import type { BackendError, BackendUnavailable } from "../errors.js"
import type { AnalyzedGraph, Graph, TensorSpec } from "../graph/graph.js"
import type { CompositeOp } from "../ops/composites.js"
import type { DType } from "../tensor/dtype.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import type { Shape } from "../tensor/shape.js"

/** What a backend can do, known before anything is compiled. */
export interface Capabilities {
  readonly dtypes: ReadonlyArray<DType>
  /** Composites run by a fused kernel; all others run their decomposition. */
  readonly fused: ReadonlyArray<CompositeOp>
  /** The largest single buffer the device takes, in bytes. */
  readonly maxBufferBytes: number
}

export interface DeviceInfo {
  readonly name: string
  readonly memoryBytes?: number | undefined
  readonly detail?: string | undefined
}

/** How `danlu backends` describes a backend. */
export interface BackendInfo {
  readonly name: string
  readonly devices: ReadonlyArray<DeviceInfo>
  readonly capabilities: Capabilities
}

/** Data living on a backend's device. Opaque to callers; only the backend that made it reads it. */
export interface DeviceBuffer {
  readonly backend: string
  readonly dtype: DType
  readonly shape: Shape
}

/**
 * A compiled graph. Runs take the graph's inputs as host data or device buffers and its state as device
 * buffers; updates are written into those state buffers in place, so weights and optimizer moments stay
 * on the device from one step to the next.
 */
export interface Program {
  readonly analyzed: AnalyzedGraph
  readonly inputs: ReadonlyArray<TensorSpec>
  readonly states: ReadonlyArray<TensorSpec>
  readonly outputs: ReadonlyArray<TensorSpec>
  run(
    inputs: Readonly<Record<string, HostTensor | DeviceBuffer>>,
    states?: Readonly<Record<string, DeviceBuffer>>,
  ): Effect.Effect<Record<string, HostTensor>, BackendError>
  /**
   * Lets go of the program before its scope closes: its device memory is freed once no other holder of
   * the same graph shape uses it. Closing the scope instead keeps it cached for reuse. Optional so that
   * backends written before it still compile; the backends in this repository all have it.
   */
  readonly release?: Effect.Effect<void>
}

/** A compute backend: the reference executor, ONNX Runtime, WebGPU, CUDA. */
export interface BackendShape {
  readonly name: string
  readonly capabilities: Capabilities
  readonly describe: Effect.Effect<BackendInfo, BackendUnavailable>
  /** Copies host data to the device; the buffer is released with the scope. */
  upload(tensor: HostTensor): Effect.Effect<DeviceBuffer, BackendError, Scope.Scope>
  download(buffer: DeviceBuffer): Effect.Effect<HostTensor, BackendError>
  /**
   * Compiles a graph, or reuses the cached program of a graph of the same shape (`graphKey`); the caller
   * holds it until the scope closes or it runs `program.release`.
   */
  compile(graph: Graph): Effect.Effect<Program, BackendError, Scope.Scope>
}

/** The backend a program runs on, provided by a `Layer` from a backend package (or core's reference). */
export class Backend extends Context.Service<Backend, BackendShape>()("@danlu/core/Backend") {}
