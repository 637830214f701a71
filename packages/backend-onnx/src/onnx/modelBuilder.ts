import type { onnx } from "onnx-proto"
import onnxProto from "onnx-proto"
import { ElemType } from "./elemType.js"

const proto = onnxProto.onnx
const AttributeType = proto.AttributeProto.AttributeType

/** The default-domain opset every lowered graph imports: GroupNormalization needs 21 (18 was wrong). */
export const opsetVersion = 21

/** An ONNX node attribute value, tagged with its ONNX type (a JS number cannot say INT from FLOAT). */
export type Attribute =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: ReadonlyArray<number> }
  | { readonly string: string }
  | { readonly tensor: onnx.ITensorProto }

export const int = (value: number): Attribute => ({ int: value })
export const float = (value: number): Attribute => ({ float: value })
export const ints = (values: ReadonlyArray<number>): Attribute => ({ ints: values })
export const text = (value: string): Attribute => ({ string: value })

const encoder = new TextEncoder()

const attributeProto = (name: string, value: Attribute): onnx.IAttributeProto => {
  if ("int" in value) return { name, type: AttributeType.INT, i: value.int }
  if ("float" in value) return { name, type: AttributeType.FLOAT, f: value.float }
  if ("ints" in value) return { name, type: AttributeType.INTS, ints: [...value.ints] }
  if ("string" in value) return { name, type: AttributeType.STRING, s: encoder.encode(value.string) }
  return { name, type: AttributeType.TENSOR, t: value.tensor }
}

type TypedData =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Uint8Array
  | Uint16Array

/** A tensor proto holding `data` as raw little-endian bytes (the layout ONNX Runtime reads directly). */
export const tensorProto = (
  name: string,
  elemType: ElemType,
  dims: ReadonlyArray<number>,
  data: TypedData,
): onnx.ITensorProto => ({
  name,
  dims: [...dims],
  dataType: elemType,
  rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
})

/** Packs numbers into the typed array an element type is stored in. */
export const packValues = (elemType: ElemType, values: ArrayLike<number>): TypedData => {
  switch (elemType) {
    case ElemType.FLOAT:
      return Float32Array.from(values)
    case ElemType.DOUBLE:
      return Float64Array.from(values)
    case ElemType.INT32:
      return Int32Array.from(values)
    case ElemType.UINT32:
      return Uint32Array.from(values)
    case ElemType.INT64:
      return BigInt64Array.from(Array.from(values, (v) => BigInt(v)))
    case ElemType.UINT64:
      return BigUint64Array.from(Array.from(values, (v) => BigInt(v)))
    case ElemType.BOOL:
    case ElemType.UINT8:
      return Uint8Array.from(values, (v) => (elemType === ElemType.BOOL ? (v !== 0 ? 1 : 0) : v))
    default:
      throw new Error(`no packing for ONNX element type ${elemType}`)
  }
}

interface ValueInfo {
  readonly name: string
  readonly elemType: ElemType
  readonly dims: ReadonlyArray<number>
}

const valueInfo = ({ name, elemType, dims }: ValueInfo): onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
})

/**
 * Collects the nodes, initializers, inputs and outputs of one ONNX graph. Node names carry a `scope`
 * (set by the lowering to the core node being emitted) so a runtime error can be traced back to it.
 */
export class ModelBuilder {
  private readonly nodes: Array<onnx.INodeProto> = []
  /** Nodes placed before all others (see `leading`). */
  private readonly leadingNodes: Array<onnx.INodeProto> = []
  private target = this.nodes
  private readonly initializers: Array<onnx.ITensorProto> = []
  private readonly inputs: Array<ValueInfo> = []
  private readonly outputs: Array<ValueInfo> = []
  private readonly constants = new Map<string, string>()
  /** Graph inputs, constants and the outputs of leading nodes: what a leading node may read. */
  private readonly early = new Set<string>()
  private counter = 0
  /** Prefix of the next node and value names. */
  scope = "graph"

  /** A value name no other value has. */
  fresh(hint = "v"): string {
    return `${this.scope}/${hint}${this.counter++}`
  }

  /** Adds one node with a single output and returns that output's name. */
  op(
    opType: string,
    inputs: ReadonlyArray<string>,
    attrs: Readonly<Record<string, Attribute>> = {},
    output?: string,
  ): string {
    const out = output ?? this.fresh(opType)
    if (this.target === this.leadingNodes) this.early.add(out)
    this.target.push({
      name: `${this.scope}#${this.counter++}`,
      opType,
      input: [...inputs],
      output: [out],
      attribute: Object.entries(attrs).map(([name, value]) => attributeProto(name, value)),
    })
    return out
  }

  /** A constant tensor as an initializer; identical constants share one initializer. */
  constant(elemType: ElemType, dims: ReadonlyArray<number>, values: ArrayLike<number>): string {
    const key = `${elemType}|${dims.join(",")}|${Array.from(values).join(",")}`
    const known = this.constants.get(key)
    if (known !== undefined) return known
    const name = `const${this.constants.size}`
    this.initializers.push(tensorProto(name, elemType, dims, packValues(elemType, values)))
    this.constants.set(key, name)
    this.early.add(name)
    return name
  }

  scalar(elemType: ElemType, value: number): string {
    return this.constant(elemType, [], [value])
  }

  int64s(values: ReadonlyArray<number>): string {
    return this.constant(ElemType.INT64, [values.length], values)
  }

  addInput(name: string, elemType: ElemType, dims: ReadonlyArray<number>): void {
    this.inputs.push({ name, elemType, dims })
    this.early.add(name)
  }

  addOutput(name: string, elemType: ElemType, dims: ReadonlyArray<number>): void {
    this.outputs.push({ name, elemType, dims })
  }

  /**
   * Runs `emit` with its nodes placed at the front of the graph, in order; they may only read graph inputs,
   * constants and each other. ONNX Runtime's default execution order is a depth-first walk back from the
   * outputs that visits a node's input with the highest node index first, so a node placed early is
   * computed late: just before its consumer, after the consumer's other inputs.
   */
  leading<A>(emit: () => A): A {
    const previous = this.target
    this.target = this.leadingNodes
    try {
      return emit()
    } finally {
      this.target = previous
    }
  }

  /** Whether a value is known before any other node runs, so `leading` nodes may read it. */
  isEarly(value: string): boolean {
    return this.early.has(value)
  }

  get nodeCount(): number {
    return this.leadingNodes.length + this.nodes.length
  }

  /** The serialized `ModelProto`. */
  encode(graphName: string): Uint8Array {
    return proto.ModelProto.encode(
      proto.ModelProto.create({
        irVersion: 10,
        producerName: "danlu",
        opsetImport: [{ domain: "", version: opsetVersion }],
        graph: {
          name: graphName,
          node: [...this.leadingNodes, ...this.nodes],
          initializer: this.initializers,
          input: this.inputs.map(valueInfo),
          output: this.outputs.map(valueInfo),
        },
      }),
    ).finish()
  }
}
