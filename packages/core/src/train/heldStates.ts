import { topologicalOrder } from "../graph/topologicalOrder.js"
import { cast } from "../ops/cast.js"
import { state } from "../ops/sources.js"
import type { DType } from "../tensor/dtype.js"
import { Tensor } from "../tensor/tensor.js"

/** Whether a trained parameter is held in half (kohya's `full_fp16` / `full_bf16`). */
export const isHalfHeld = (dtype: DType): boolean => dtype === "f16" || dtype === "bf16"

/**
 * The f32 reads of each half-held parameter in the graph of `root`: the casts that widen it where the model
 * reads it (`WeightScope` or `LoraNetwork` storage), by parameter. The step differentiates these, so the
 * gradient is f32 and never rounded to half. Throws when a half parameter is also read as itself: its math
 * would be half math, which danlu does not train in.
 */
export const f32Reads = (
  root: Tensor,
  params: ReadonlyArray<Tensor<"state">>,
): Map<Tensor<"state">, Array<Tensor>> => {
  const reads = new Map(params.map((p) => [p, [] as Array<Tensor>]))
  if (reads.size === 0) return reads
  for (const node of topologicalOrder([root]))
    for (const input of node.inputs) {
      const found = reads.get(input as Tensor<"state">)
      if (!found) continue
      if (node.op !== "cast" || node.dtype !== "f32")
        throw new RangeError(
          `the trained state "${(input as Tensor<"state">).attrs.name}" is held in ${input.dtype} and read by ${node.op} as ${node.dtype}; a half-held weight must be cast to f32 where it is read`,
        )
      if (!found.includes(node)) found.push(node)
    }
  return reads
}

/**
 * `updates` with each state held in another dtype than the update computes it in: every read of such a state
 * becomes a cast of the held state to the computed dtype, and its new value is cast to the held dtype, so it is
 * rounded once, when it is written. The optimizer thus runs unchanged in f32 on half-held parameters and moments.
 * `heldDType` gives a state's held dtype, undefined for "as computed".
 */
export const heldUpdates = (
  updates: Readonly<Record<string, Tensor>>,
  heldDType: (name: string) => DType | undefined,
): Record<string, Tensor> => {
  const rewritten = new Map<number, Tensor>()
  const views = new Map<string, Tensor>()
  for (const node of topologicalOrder(Object.values(updates))) {
    let result: Tensor = node
    if (node.op === "state") {
      const { name } = (node as Tensor<"state">).attrs
      const held = heldDType(name)
      if (held !== undefined && held !== node.dtype) {
        const key = `${name}\u0000${node.dtype}`
        result = views.get(key) ?? cast(state(name, node.shape, held), node.dtype)
        views.set(key, result)
      }
    } else {
      const inputs = node.inputs.map((input) => rewritten.get(input.id) ?? input)
      if (inputs.some((input, i) => input !== node.inputs[i]))
        result = new Tensor(node.op, inputs, node.attrs, node.shape, node.dtype)
    }
    rewritten.set(node.id, result)
  }
  return Object.fromEntries(
    Object.entries(updates).map(([name, value]) => {
      const computed = rewritten.get(value.id)!
      const held = heldDType(name)
      return [name, held === undefined ? computed : cast(computed, held)]
    }),
  )
}
