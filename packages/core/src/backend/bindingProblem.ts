import { ProgramInputError } from "../errors.js"
import type { TensorSpec } from "../graph/graph.js"
import { formatShape, sameShape } from "../tensor/shape.js"

/**
 * What is wrong with a value bound to a program's input or state — missing, or of another shape or
 * dtype than the graph declares — or undefined when it fits. Every backend checks bindings with this,
 * so the messages read the same everywhere.
 */
export const bindingProblem = (
  what: "input" | "state",
  spec: TensorSpec,
  value: Pick<TensorSpec, "shape" | "dtype"> | undefined,
): ProgramInputError | undefined => {
  if (!value) return new ProgramInputError({ name: spec.name, detail: `missing ${what}` })
  if (!sameShape(value.shape, spec.shape) || value.dtype !== spec.dtype) {
    return new ProgramInputError({
      name: spec.name,
      detail: `expected ${formatShape(spec.shape)} ${spec.dtype}, got ${formatShape(value.shape)} ${value.dtype}`,
    })
  }
  return undefined
}
