import type { DType, Shape } from "@danlu/core"
import { sizeOf } from "@danlu/core"
import { collapseDims } from "../dims.js"
import { type Command, type LaunchContext, type Operand, outputOperand } from "../launch.js"
import { f32Bits, linearWorkgroups } from "../wgsl.js"
import { stridedMapSource } from "./stridedMap.wgsl.js"

/** An operand seen through strides: element `offset + Σ coordinate·stride`. */
export interface StridedView {
  readonly operand: Operand
  readonly dtype: DType
  readonly offset: number
  readonly strides: ReadonlyArray<number>
}

export interface StridedMap {
  /** The iteration space; every view's strides have one entry per dim. */
  readonly shape: Shape
  readonly out: StridedView
  readonly inputs: ReadonlyArray<StridedView>
  readonly expression: string
  readonly functions?: string
  readonly params?: ReadonlyArray<number>
}

/** Row-major strides, in elements. */
export const contiguousStrides = (shape: Shape): Array<number> => {
  const strides = new Array<number>(shape.length)
  let stride = 1
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride
    stride *= shape[d]!
  }
  return strides
}

/** Strides of a tensor of shape `from` read against the dims of `to` (NumPy broadcasting). */
export const broadcastStrides = (from: Shape, to: Shape): Array<number> => {
  const strides = contiguousStrides(from)
  const lead = to.length - from.length
  return to.map((_, d) => (d < lead || from[d - lead] === 1 ? 0 : strides[d - lead]!))
}

/** The whole output, written in order. */
export const contiguousOut = (dtype: DType, shape: Shape): StridedView => ({
  operand: outputOperand,
  dtype,
  offset: 0,
  strides: contiguousStrides(shape),
})

/** The command for a strided map, or none when the iteration space is empty. */
export const stridedMap = (ctx: LaunchContext, map: StridedMap): ReadonlyArray<Command> => {
  const count = sizeOf(map.shape)
  if (count === 0) return []
  const views = [map.out, ...map.inputs]
  const { dims, strides } = collapseDims(
    map.shape,
    views.map((v) => v.strides),
  )
  const params = map.params ?? []
  const source = stridedMapSource({
    rank: dims.length,
    out: map.out.dtype,
    inputs: map.inputs.map((v) => v.dtype),
    expression: map.expression,
    functions: map.functions ?? "",
  })
  const words = [
    count,
    ...dims,
    ...views.flatMap((v, k) => [v.offset, ...strides[k]!]),
    ...params.map(f32Bits),
  ]
  return [
    {
      kind: "compute",
      pipeline: ctx.pipeline(source),
      operands: views.map((v) => v.operand),
      params: Uint32Array.from(words),
      workgroups: linearWorkgroups(count),
    },
  ]
}
