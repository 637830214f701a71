import type { CompositeOp, KernelOp, OpName, Tensor } from "@danlu/core"

/** Where a command's buffer comes from: one of the node's inputs, its output, or data the program owns. */
export type Operand =
  | { readonly kind: "input"; readonly index: number }
  | { readonly kind: "output" }
  | { readonly kind: "data"; readonly bytes: Uint8Array<ArrayBuffer> }

export const inputOperand = (index: number): Operand => ({ kind: "input", index })
export const outputOperand: Operand = { kind: "output" }

/**
 * One compute dispatch. Its shader binds `operands` at bindings 0…n-1 and reads its sizes and strides
 * from `params` (u32 words) at binding n, so a pipeline serves every shape of its kind.
 */
export interface ComputeCommand {
  readonly kind: "compute"
  readonly pipeline: GPUComputePipeline
  readonly operands: ReadonlyArray<Operand>
  readonly params: Uint32Array<ArrayBuffer>
  readonly workgroups: readonly [number, number, number]
}

/** A buffer-to-buffer copy (reshape, constants): no shader at all. */
export interface CopyCommand {
  readonly kind: "copy"
  readonly from: Operand
  readonly to: Operand
  readonly bytes: number
}

export type Command = ComputeCommand | CopyCommand

/** What a launcher may ask of the device while turning a node into commands. */
export interface LaunchContext {
  /** The pipeline for a WGSL source, compiled once per device. */
  pipeline(source: string): GPUComputePipeline
  readonly limits: GPUSupportedLimits
}

/**
 * Turns one node into the commands that compute it. Runs once when a program is compiled; the
 * commands are replayed on every run.
 */
export type Launcher<Op extends OpName> = (node: Tensor<Op>, ctx: LaunchContext) => ReadonlyArray<Command>

/** One launcher per primitive: a missing one is a compile error. */
export type LauncherTable = { readonly [Op in KernelOp]: Launcher<Op> }

export type FusedLauncherTable = { readonly [Op in CompositeOp]?: Launcher<Op> }
