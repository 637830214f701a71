import { vjp } from "../autodiff/grad.js"
import { input } from "../ops/sources.js"
import { type DType, isFloat } from "../tensor/dtype.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import type { Tensor } from "../tensor/tensor.js"
import { drawInput } from "./draw.js"
import type { OpCase } from "./opCase.js"

/** A case recorded as a graph: its output, and (when differentiable) the VJP with respect to its float inputs. */
export interface CaseGraph {
  readonly output: Tensor
  readonly gradients: ReadonlyArray<Tensor>
  readonly feeds: Readonly<Record<string, HostTensor>>
}

const seedOf = (name: string, slot: number): number => {
  let h = 2166136261
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619)
  return ((h >>> 0) + slot * 7919) % 2 ** 31
}

export const buildCaseGraph = (opCase: OpCase, dtype: DType): CaseGraph => {
  const feeds: Record<string, HostTensor> = {}
  const inputs = opCase.inputs.map((spec, i) => {
    const value = drawInput(spec, dtype, seedOf(opCase.name, i))
    feeds[`x${i}`] = value
    return input(`x${i}`, value.shape, value.dtype)
  })
  const output = opCase.build(inputs, dtype)
  const floats = inputs.filter((t) => isFloat(t.dtype))
  if (opCase.differentiable === false || floats.length === 0 || !isFloat(output.dtype)) {
    return { output, gradients: [], feeds }
  }
  const cotangent = drawInput({ shape: output.shape }, output.dtype, seedOf(opCase.name, 99))
  feeds.cotangent = cotangent
  const gradients = vjp([output], [input("cotangent", output.shape, output.dtype)], floats)
  return { output, gradients, feeds }
}
