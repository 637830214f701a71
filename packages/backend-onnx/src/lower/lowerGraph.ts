import {
  type AnalyzedGraph,
  analyzeGraph,
  type CompositeOp,
  type Graph,
  lowerComposites,
  type Tensor,
} from "@danlu/core"
import { boundaryType, computeType, ElemType, sourceType } from "../onnx/elemType.js"
import { ModelBuilder } from "../onnx/modelBuilder.js"
import { compositeEmitters } from "./composites.js"
import { EmitContext, type Emitter } from "./emitContext.js"
import { exactOps, primitiveEmitters } from "./primitives.js"

/** The names a graph's values have at the `run()` boundary of its ONNX model, by core name. */
export interface ModelBinding {
  /** ONNX input name of each core input and state. */
  readonly inputNames: ReadonlyMap<string, string>
  readonly stateNames: ReadonlyMap<string, string>
  /** ONNX output name of each core output and state update. */
  readonly outputNames: ReadonlyMap<string, string>
  readonly updateNames: ReadonlyMap<string, string>
  /** "gather #12 → [3,4] f32" for the core node an ONNX node name was emitted for, if any. */
  describeNode(onnxNodeName: string): { readonly op: string; readonly text: string } | undefined
}

/** A core graph as one ONNX model, with the names its values have at the `run()` boundary. */
export interface LoweredGraph extends ModelBinding {
  readonly analyzed: AnalyzedGraph
  readonly model: Uint8Array
  readonly nodeCount: number
}

/** The order `lowerGraph` emits a graph's nodes in: ONNX node names start with their index in it. */
export const loweringOrder = (graph: Graph, fused: ReadonlySet<CompositeOp>): AnalyzedGraph =>
  analyzeGraph(lowerComposites(graph, fused))

/** `describeNode` for a model whose nodes were emitted in `order`. */
export const nodeDescriber =
  (order: () => ReadonlyArray<Tensor>): ModelBinding["describeNode"] =>
  (onnxNodeName) => {
    const match = /^n(\d+):([A-Za-z0-9]+)/.exec(onnxNodeName)
    const node = match ? order()[Number(match[1])] : undefined
    if (!match || !node) return undefined
    return { op: node.op, text: `${node.op} node #${match[1]} → [${node.shape.join(",")}] ${node.dtype}` }
  }

const emitters = { ...primitiveEmitters, ...compositeEmitters } as unknown as Record<string, Emitter<never>>

const scopeOf = (index: number, node: Tensor): string => `n${index}:${node.op}`

/**
 * Ops of one input that are emitted again at each use when that input is: a cast or a view of a weight.
 * Only single-input ops, so re-emitting costs the length of a chain, never a whole subgraph.
 */
const rematOps: ReadonlySet<string> = new Set(["cast", "reshape", "permute", "slice"])

/** Every bf16 bit pattern's f32 value: bf16 bits are the top half of an f32's. */
const bf16Values = (): Float32Array =>
  new Float32Array(Uint32Array.from({ length: 65536 }, (_, bits) => bits << 16).buffer)

/**
 * Lowers a whole graph to one ONNX model. Composites in `fused` become fused ONNX ops; the others are
 * decomposed by core first. Inputs and state are graph inputs (never initializers), so weights of any
 * size are fed at run time and the model stays small.
 */
export const lowerGraph = (graph: Graph, fused: ReadonlySet<CompositeOp>): LoweredGraph => {
  const analyzed = loweringOrder(graph, fused)
  const b = new ModelBuilder()
  const ctx = new EmitContext(b)
  const values = new Map<number, string>()
  const sourceValues = new Map<string, string>()
  const inputNames = new Map<string, string>()
  const stateNames = new Map<string, string>()

  let bf16Table: string | undefined
  /** A source in its compute type: f16 widened by a Cast, bf16 bits looked up in a table of their values. */
  const widen = (onnxName: string, node: Tensor): string =>
    b.leading(() => {
      if (node.dtype !== "bf16") return ctx.cast(onnxName, computeType[node.dtype])
      bf16Table ??= b.constant(ElemType.FLOAT, [65536], bf16Values())
      return b.op("Gather", [bf16Table, ctx.cast(onnxName, ElemType.INT32)])
    })
  // A 16-bit source widened to FLOAT, and a cast or view of one (a kohya half weight cast to f32,
  // transposed, reshaped: `rematOps`), are emitted again at each use rather than once: a single f32 copy
  // would live from a weight's use in the forward pass to its use in the backward pass, so half weights
  // would cost more memory than f32 ones. ONNX Runtime's common-subexpression elimination merges the copies
  // back unless it is disabled, and its execution order computes them just before their use only when they
  // come first in the file (`leading`).
  const remat = new Map<number, () => string>()
  const sourceRemat = new Map<string, () => string>()
  const lowered = (t: Tensor): string => remat.get(t.id)?.() ?? values.get(t.id)!

  analyzed.order.forEach((node, index) => {
    b.scope = scopeOf(index, node)
    if (node.op === "input" || node.op === "state") {
      const name = (node as Tensor<"input" | "state">).attrs.name
      const known = sourceValues.get(name)
      if (known !== undefined) {
        values.set(node.id, known)
        return
      }
      const again = sourceRemat.get(name)
      if (again !== undefined) {
        remat.set(node.id, again)
        return
      }
      const onnxName = `${node.op}:${name}`
      ;(node.op === "input" ? inputNames : stateNames).set(name, onnxName)
      b.addInput(onnxName, sourceType[node.dtype], node.shape)
      if (sourceType[node.dtype] === computeType[node.dtype]) {
        sourceValues.set(name, onnxName)
        values.set(node.id, onnxName)
      } else {
        const widened = () => widen(onnxName, node)
        sourceRemat.set(name, widened)
        remat.set(node.id, widened)
      }
      return
    }
    const emit = emitters[node.op]
    if (emit === undefined) throw new Error(`no ONNX lowering for op ${node.op}`)
    const lower = () => {
      const result = emit(ctx, node as never, node.inputs.map(lowered))
      return exactOps.has(node.op) ? result : ctx.round(result, node.dtype)
    }
    if (rematOps.has(node.op) && remat.has(node.inputs[0]!.id)) remat.set(node.id, () => b.leading(lower))
    else values.set(node.id, lower())
  })

  const emitBoundary = (prefix: string, entries: Readonly<Record<string, Tensor>>): Map<string, string> => {
    const names = new Map<string, string>()
    for (const [name, tensor] of Object.entries(entries)) {
      const onnxName = `${prefix}:${name}`
      b.scope = `${prefix}:${name}`
      const value = lowered(tensor)
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
    describeNode: nodeDescriber(() => analyzed.order),
  }
}
