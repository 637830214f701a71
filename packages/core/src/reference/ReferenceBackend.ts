import { Effect, Layer } from "effect"
import { Backend, type BackendShape, type Capabilities } from "../backend/Backend.js"
import { makeKernelBackend } from "../backend/executor.js"
import { type ImmediateLaunch, type ImmediateRecording, immediateDevice } from "../backend/immediate.js"
import type { KernelDevice } from "../backend/kernelDevice.js"
import type { Kernel, KernelTable } from "../backend/kernels.js"
import { dtypes } from "../tensor/dtype.js"
import { sizeOf } from "../tensor/shape.js"
import { referenceKernels } from "./kernels/index.js"
import {
  allocateRef,
  type RefArray,
  refBytes,
  referenceSizeClasses,
  refFromHost,
  refToHost,
  refWriteHost,
  roundTo,
  storageClass,
} from "./storage.js"

const name = "reference"

/** Every kernel result is rounded to its node's dtype, so f16/bf16 behave as stored 16-bit values. */
const rounding = (table: KernelTable<RefArray>): KernelTable<RefArray> =>
  Object.fromEntries(
    Object.entries(table).map(([op, kernel]) => [
      op,
      ((node, inputs, out) => {
        ;(kernel as Kernel<never, RefArray>)(node as never, inputs, out)
        roundTo(out, node.dtype)
      }) satisfies Kernel<never, RefArray>,
    ]),
  ) as unknown as KernelTable<RefArray>

export const referenceDevice: KernelDevice<
  RefArray,
  ImmediateLaunch<RefArray>,
  ImmediateRecording<RefArray>
> = immediateDevice(
  {
    name,
    allocate: ({ dtype, shape }) => allocateRef(dtype, shape),
    bytesOf: ({ dtype, shape }) => refBytes(dtype, shape),
    fromHost: refFromHost,
    write: refWriteHost,
    toHost: async (data, { dtype, shape }) => refToHost(data, dtype, shape),
    copy: (from, to) => {
      to.set(from)
    },
    poolKey: ({ dtype, shape }) => `${storageClass(dtype)}:${sizeOf(shape)}`,
    sizeClasses: referenceSizeClasses,
  },
  rounding(referenceKernels),
  {},
)

export const referenceCapabilities: Capabilities = {
  dtypes,
  fused: [],
  maxBufferBytes: 2 ** 31,
}

/** The reference executor: plain TypeScript, f64 arithmetic, slow and obviously right. Needs no install. */
export const makeReferenceBackend = (): BackendShape =>
  makeKernelBackend(
    referenceDevice,
    referenceCapabilities,
    Effect.succeed({
      name,
      devices: [{ name: "JavaScript (f64 loops on the CPU)" }],
      capabilities: referenceCapabilities,
    }),
  )

/** Provides the reference executor as the `Backend`. */
export const layer: Layer.Layer<Backend> = Layer.sync(Backend, makeReferenceBackend)
