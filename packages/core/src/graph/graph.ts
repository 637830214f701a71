import { DTypeError, ShapeError } from "../errors.js"
import type { DType } from "../tensor/dtype.js"
import { formatShape, type Shape, sameShape } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"
import { topologicalOrder } from "./topologicalOrder.js"

/** The name, shape and dtype of a program's input, output or state value. */
export interface TensorSpec {
  readonly name: string
  readonly shape: Shape
  readonly dtype: DType
}

/**
 * What a backend compiles: named outputs to return, and `updates` that write new values into state
 * (after the run, `state[name] := updates[name]`). One training step is one graph: forward, backward
 * and optimizer update, with weights and moments as state.
 */
export interface Graph {
  readonly outputs: Readonly<Record<string, Tensor>>
  readonly updates?: Readonly<Record<string, Tensor>>
}

/** A graph checked and ordered once, ready for a backend. */
export interface AnalyzedGraph {
  readonly graph: Graph
  readonly order: ReadonlyArray<Tensor>
  readonly inputs: ReadonlyArray<TensorSpec>
  readonly states: ReadonlyArray<TensorSpec>
  readonly outputs: ReadonlyArray<TensorSpec>
  readonly updates: ReadonlyArray<TensorSpec>
}

const spec = (name: string, t: Tensor): TensorSpec => ({ name, shape: t.shape, dtype: t.dtype })

const conflict = (detail: string, ...shapes: ReadonlyArray<Shape>): never => {
  throw new ShapeError({ op: "graph", detail, shapes })
}

/** Orders the graph and lists its inputs and state, refusing name clashes and mis-shaped updates. */
export const analyzeGraph = (graph: Graph): AnalyzedGraph => {
  const updates = graph.updates ?? {}
  const order = topologicalOrder([...Object.values(graph.outputs), ...Object.values(updates)])
  const sources = new Map<string, Tensor>()
  for (const node of order) {
    if (node.op !== "input" && node.op !== "state") continue
    const name = (node as Tensor<"input" | "state">).attrs.name
    const seen = sources.get(name)
    if (seen && seen !== node) {
      if (seen.op !== node.op || !sameShape(seen.shape, node.shape) || seen.dtype !== node.dtype) {
        conflict(`"${name}" names two different ${seen.op}/${node.op} values`, seen.shape, node.shape)
      }
    }
    if (!seen) sources.set(name, node)
  }
  const ofKind = (op: "input" | "state") =>
    [...sources].filter(([, t]) => t.op === op).map(([name, t]) => spec(name, t))
  const states = ofKind("state")
  for (const [name, value] of Object.entries(updates)) {
    const target = sources.get(name)
    if (target?.op !== "state")
      conflict(`update "${name}" has no state of that name in the graph`, value.shape)
    else if (!sameShape(target.shape, value.shape)) {
      conflict(
        `update "${name}" is ${formatShape(value.shape)} but the state is ${formatShape(target.shape)}`,
        value.shape,
        target.shape,
      )
    } else if (target.dtype !== value.dtype) {
      throw new DTypeError({
        op: "graph",
        detail: `update "${name}" is ${value.dtype} but the state is ${target.dtype}`,
        dtypes: [value.dtype, target.dtype],
      })
    }
  }
  return {
    graph,
    order,
    inputs: ofKind("input"),
    states,
    outputs: Object.entries(graph.outputs).map(([name, t]) => spec(name, t)),
    updates: Object.entries(updates).map(([name, t]) => spec(name, t)),
  }
}
