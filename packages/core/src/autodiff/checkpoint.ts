import type { Tensor } from "../tensor/tensor.js"

/** A block whose activations the backward pass recomputes instead of keeping. */
export interface CheckpointBlock {
  readonly inputs: ReadonlyArray<Tensor>
  readonly recompute: (inputs: ReadonlyArray<Tensor>) => Tensor
}

const blocks = new WeakMap<Tensor, CheckpointBlock>()

/**
 * Gradient checkpointing: `f(...inputs)`, recorded so that `grad` differentiates a fresh copy of the
 * block instead of the nodes of the forward pass. The forward's activations inside the block then die as
 * soon as the block's output is computed, and the backward recomputes them from `inputs` — less memory
 * for one more forward of the block. `f` must build the same computation each time it is called (weights
 * from a `WeightScope` or a LoRA network are shared tensors, so they are).
 */
export const checkpoint = <const Inputs extends ReadonlyArray<Tensor>>(
  inputs: Inputs,
  f: (...inputs: Inputs) => Tensor,
): Tensor => {
  const output = f(...inputs)
  blocks.set(output, { inputs, recompute: (xs) => f(...(xs as unknown as Inputs)) })
  return output
}

export const checkpointBlockOf = (output: Tensor): CheckpointBlock | undefined => blocks.get(output)
