import type { OpAttrs, OpName } from "../ops/opName.js"
import type { DType } from "./dtype.js"
import type { Shape } from "./shape.js"

let nextId = 0

/**
 * A lazy tensor: one node of a computation graph. Making it runs nothing; it records the op, its
 * inputs and attributes, and the shape and dtype the op will produce. Graphs are the DAGs reachable
 * from the tensors a caller asks for, so nodes are immutable and shared freely.
 */
export class Tensor<Op extends OpName = OpName> {
  /** Creation order; inputs always have smaller ids than the tensors made from them. */
  readonly id: number = nextId++

  constructor(
    readonly op: Op,
    readonly inputs: ReadonlyArray<Tensor>,
    readonly attrs: OpAttrs[Op],
    readonly shape: Shape,
    readonly dtype: DType,
  ) {}

  get rank(): number {
    return this.shape.length
  }

  toString(): string {
    return `Tensor(${this.op} #${this.id} [${this.shape.join(",")}] ${this.dtype})`
  }
}

export const record = <Op extends OpName>(
  op: Op,
  inputs: ReadonlyArray<Tensor>,
  attrs: OpAttrs[Op],
  shape: Shape,
  dtype: DType,
): Tensor<Op> => new Tensor(op, inputs, attrs, shape, dtype)
