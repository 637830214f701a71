import type { CompositeOp } from "../ops/composites.js"
import type { OpName } from "../ops/opName.js"
import type { PrimitiveOp } from "../ops/primitives.js"
import type { Tensor } from "../tensor/tensor.js"

/** Primitives that compute something; `input` and `state` are bound to caller buffers instead. */
export type KernelOp = Exclude<PrimitiveOp, "input" | "state">

/** Computes `node` from its input buffers into `out`. Shapes and attributes come from the node. */
export type Kernel<Op extends OpName, Buf> = (node: Tensor<Op>, inputs: ReadonlyArray<Buf>, out: Buf) => void

/** One kernel per primitive: a backend that misses one does not compile. */
export type KernelTable<Buf> = { readonly [Op in KernelOp]: Kernel<Op, Buf> }

/** Optional fused kernels for composites; the rest run their decomposition. */
export type FusedKernels<Buf> = { readonly [Op in CompositeOp]?: Kernel<Op, Buf> }

/**
 * Turns a node into what runs it on a device (its commands, pipelines, parameters). Called once per node
 * when a program is compiled; what it returns is bound to buffers and replayed on every run.
 */
export type Launcher<Op extends OpName, Launch> = (node: Tensor<Op>) => Launch

/** One launcher per primitive: a device that misses one does not compile. */
export type LauncherTable<Launch> = { readonly [Op in KernelOp]: Launcher<Op, Launch> }

/** Optional fused launchers for composites; the rest run their decomposition. */
export type FusedLaunchers<Launch> = { readonly [Op in CompositeOp]?: Launcher<Op, Launch> }
