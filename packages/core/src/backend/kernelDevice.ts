import type { Effect } from "effect"
import type { BackendError } from "../errors.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import type { Tensor } from "../tensor/tensor.js"
import type { DeviceBuffer } from "./Backend.js"
import type { FusedLaunchers, LauncherTable } from "./kernels.js"
import type { SizeClasses, SlotSpec } from "./plan.js"

/** A node's launch bound to the buffers of one run: its inputs, then its output. */
export interface BoundLaunch<Buf, Launch> {
  readonly node: Tensor
  readonly launch: Launch
  readonly inputs: ReadonlyArray<Buf>
  readonly output: Buf
}

/** An update written into its state after the launches: `spec`'s bytes of `from` into `to`. */
export interface BoundCopy<Buf> {
  readonly from: Buf
  readonly to: Buf
  readonly spec: SlotSpec
}

/**
 * The contract of a kernel backend's device. Core's executor plans a graph (order, slots, reuse), asks
 * `launchers` once per node at compile time, takes activation buffers from one pool per backend, binds
 * a run's inputs and states, `record`s the bound launches once and `replay`s the recording on every run
 * whose buffers are the same. A GPU records commands and submits them; a device that computes at once
 * (the reference, see `immediateDevice`) keeps the calls and makes them.
 */
export interface KernelDevice<Buf, Launch = unknown, Recording = unknown> {
  readonly name: string
  readonly launchers: LauncherTable<Launch>
  readonly fused: FusedLaunchers<Launch>
  /** Buffers with equal keys are interchangeable, so a dead one can hold a later node. */
  poolKey(spec: SlotSpec): string
  /**
   * Where set, a dead buffer holds any later node of its class that fits, not only one of equal
   * `poolKey`, and the largest one grows where none fits: programs then need far less memory.
   */
  readonly sizeClasses?: SizeClasses<Buf> | undefined
  /** Bytes a buffer of `spec` takes on the device. */
  bytesOf(spec: SlotSpec): number
  allocate(spec: SlotSpec): Buf
  /** Frees device memory; devices whose storage the garbage collector reclaims leave it out. */
  release?(buffer: Buf): void
  /** A new buffer holding a copy of host data (an upload). */
  fromHost(tensor: HostTensor): Buf
  /** Writes one run's host input into the buffer bound to it. */
  write(buffer: Buf, tensor: HostTensor): void
  /** Reads a buffer back once the work recorded before has run; fails with typed errors where it can. */
  toHost(buffer: Buf, spec: SlotSpec): Promise<HostTensor>
  /** Binds a program's launches and its update copies to one run's buffers. */
  record(launches: ReadonlyArray<BoundLaunch<Buf, Launch>>, updates: ReadonlyArray<BoundCopy<Buf>>): Recording
  /** Runs a recording: submits its commands, or makes its calls. */
  replay(recording: Recording): void
  /** Frees what a launch holds (parameter buffers), when its program is freed. */
  dispose?(launch: Launch): void
  /** Why the device cannot hold or compute a node (a dtype it lacks, a tensor too large), if so. */
  unsupported?(node: Tensor): string | undefined
  /**
   * Runs device work (`what`: compiling, allocating `bytes`, running) and turns what goes wrong during it
   * into a typed error: a device that reports errors later (WebGPU's error scopes) or can be lost checks
   * here. Without it, a throw becomes the error as `asBackendError` makes it.
   */
  guard?<A>(what: string, bytes: number | undefined, work: () => A): Effect.Effect<A, BackendError>
}

/** A device buffer of a kernel backend: the device's storage with the shape and dtype it holds. */
export class KernelBuffer<Buf> implements DeviceBuffer {
  constructor(
    readonly backend: string,
    readonly dtype: DeviceBuffer["dtype"],
    readonly shape: DeviceBuffer["shape"],
    readonly storage: Buf,
  ) {}
}
