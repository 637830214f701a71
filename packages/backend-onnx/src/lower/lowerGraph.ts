import {
  type AnalyzedGraph,
  analyzeGraph,
  type CompositeOp,
  type Graph,
  lowerComposites,
  type Tensor,
} from "@danlu/core"
import { boundaryType, computeType } from "../onnx/elemType.js"
import { ModelBuilder } from "../onnx/modelBuilder.js"
import { compositeEmitters } from "./composites.js"
import { EmitContext, type Emitter } from "./emitContext.js"
import { exactOps, primitiveEmitters } from "./primitives.js"

/** A core graph as one ONNX model, with the names its values have at the `run()` boundary. */
export interface LoweredGraph {
  readonly analyzed: AnalyzedGraph
  readonly model: Uint8Array
  readonly nodeCount: number
  /** ONNX input name of each core input and state, by core name. */
  readonly inputNames: ReadonlyMap<string, string>
  readonly stateNames: ReadonlyMap<string, string>
  /** ONNX output name of each core output and state update, by core name. */
  readonly outputNames: ReadonlyMap<string, string>
  readonly updateNames: ReadonlyMap<string, string>
  /** "gather #12 → [3,4] f32" for the core node an ONNX node name was emitted for, if any. */
  describeNode(onnxNodeName: string): { readonly op: string; readonly text: string } | undefined
}

const emitters = { ...primitiveEmitters, ...compositeEmitters } as unknown as Record<string, Emitter<never>>

const scopeOf = (index: number, node: Tensor): string => `n${index}:${node.op}`

/**
 * Lowers a whole graph to one ONNX model. Composites in `fused` become fused ONNX ops; the others are
 * decomposed by core first. Inputs and state are graph inputs (never initializers), so weights of any
 * size are fed at run time and the model stays small.
 */
export const lowerGraph = (graph: Graph, fused: ReadonlySet<CompositeOp>): LoweredGraph => {
  const analyzed = analyzeGraph(lowerComposites(graph, fused))
  const b = new ModelBuilder()
  const ctx = new EmitContext(b)
  const values = new Map<number, string>()
  const sourceValues = new Map<string, string>()
  const inputNames = new Map<string, string>()
  const stateNames = new Map<string, string>()
  const described: Array<Tensor> = []

  analyzed.order.forEach((node, index) => {
    b.scope = scopeOf(index, node)
    described[index] = node
    if (node.op === "input" || node.op === "state") {
      const name = (node as Tensor<"input" | "state">).attrs.name
      const known = sourceValues.get(name)
      if (known !== undefined) {
        values.set(node.id, known)
        return
      }
      const onnxName = `${node.op}:${name}`
      ;(node.op === "input" ? inputNames : stateNames).set(name, onnxName)
      b.addInput(onnxName, boundaryType[node.dtype], node.shape)
      const value =
        boundaryType[node.dtype] === computeType[node.dtype]
          ? onnxName
          : ctx.cast(onnxName, computeType[node.dtype])
      sourceValues.set(name, value)
      values.set(node.id, value)
      return
    }
    const emit = emitters[node.op]
    if (emit === undefined) throw new Error(`no ONNX lowering for op ${node.op}`)
    const result = emit(
      ctx,
      node as never,
      node.inputs.map((t) => values.get(t.id)!),
    )
    values.set(node.id, exactOps.has(node.op) ? result : ctx.round(result, node.dtype))
  })

  const emitBoundary = (prefix: string, entries: Readonly<Record<string, Tensor>>): Map<string, string> => {
    const names = new Map<string, string>()
    for (const [name, tensor] of Object.entries(entries)) {
      const onnxName = `${prefix}:${name}`
      b.scope = `${prefix}:${name}`
      const value = values.get(tensor.id)!
      const boundary = boundaryType[tensor.dtype]
      if (boundary === computeType[tensor.dtype]) b.op("Identity", [value], {}, onnxName)
      else b.op("Cast", [value], { to: { int: boundary } }, onnxName)
      b.addOutput(onnxName, boundary, tensor.shape)
      names.set(name, onnxName)
    }
    return names
  }
  const outputNames = emitBoundary("output", analyzed.graph.outputs)
  const updateNames = emitBoundary("update", analyzed.graph.updates ?? {})

  return {
    analyzed,
    model: b.encode("danlu"),
    nodeCount: b.nodeCount,
    inputNames,
    stateNames,
    outputNames,
    updateNames,
    describeNode: (onnxNodeName) => {
      const match = /^n(\d+):([A-Za-z0-9]+)/.exec(onnxNodeName)
      const node = match ? described[Number(match[1])] : undefined
      if (!match || !node) return undefined
      return { op: node.op, text: `${node.op} node #${match[1]} → [${node.shape.join(",")}] ${node.dtype}` }
    },
  }
}
