import type { CompositeOp } from "../ops/composites.js"
import type { Tensor } from "../tensor/tensor.js"
import { asBackendError } from "./asBackendError.js"
import type { BoundCopy, BoundLaunch, KernelDevice } from "./kernelDevice.js"
import type { FusedKernels, Kernel, KernelOp, KernelTable } from "./kernels.js"
import type { SlotSpec } from "./plan.js"

/** A node's kernel with the node bound: what an immediate device launches. */
export type ImmediateLaunch<Buf> = (inputs: ReadonlyArray<Buf>, out: Buf) => void

/** The calls of a run and its update copies, made in order by `replay`. */
export interface ImmediateRecording<Buf> {
  readonly launches: ReadonlyArray<BoundLaunch<Buf, ImmediateLaunch<Buf>>>
  readonly updates: ReadonlyArray<BoundCopy<Buf>>
}

/** Storage of a device that computes where its buffers are (host memory): all but the launch contract. */
export type ImmediateStorage<Buf> = Omit<
  KernelDevice<Buf>,
  "launchers" | "fused" | "record" | "replay" | "dispose"
> & {
  /** Copies `spec`'s elements of `from` into `to`. */
  copy(from: Buf, to: Buf, spec: SlotSpec): void
}

const bound = <Op extends KernelOp | CompositeOp, Buf>(kernel: Kernel<Op, Buf>) =>
  ((node: Tensor<Op>): ImmediateLaunch<Buf> =>
    (inputs, out) =>
      kernel(node, inputs, out)) as (node: Tensor<never>) => ImmediateLaunch<Buf>

/**
 * A kernel device that computes each kernel the moment it is called (the reference): its launch is the
 * kernel with its node, its recording the list of calls, and a replay makes them. A kernel's typed error
 * is thrown as itself; any other failure becomes a `BackendExecutionError` naming the node's op.
 */
export const immediateDevice = <Buf>(
  storage: ImmediateStorage<Buf>,
  kernels: KernelTable<Buf>,
  fused: FusedKernels<Buf>,
): KernelDevice<Buf, ImmediateLaunch<Buf>, ImmediateRecording<Buf>> => {
  const launchersOf = <T extends object>(table: T) =>
    Object.fromEntries(Object.entries(table).map(([op, kernel]) => [op, bound(kernel as Kernel<never, Buf>)]))
  return {
    ...storage,
    launchers: launchersOf(kernels) as unknown as KernelDevice<Buf, ImmediateLaunch<Buf>>["launchers"],
    fused: launchersOf(fused),
    record: (launches, updates) => ({ launches, updates }),
    replay({ launches, updates }) {
      for (const { node, launch, inputs, output } of launches) {
        try {
          launch(inputs, output)
        } catch (cause) {
          throw asBackendError(cause, this.name, "", node.op)
        }
      }
      for (const { from, to, spec } of updates) storage.copy(from, to, spec)
    },
  }
}
