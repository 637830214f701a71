import { type AnalyzedGraph, analyzeGraph, type Graph, type TensorSpec } from "../graph/graph.js"
import { lowerComposites } from "../graph/lowerComposites.js"
import { topologicalOrder } from "../graph/topologicalOrder.js"
import type { CompositeOp } from "../ops/composites.js"
import { Tensor } from "../tensor/tensor.js"

/** A buffer's shape and dtype: what a slot, an allocation or a read needs to know. */
export type SlotSpec = Omit<TensorSpec, "name">

/** How a device lets one buffer hold tensors of different sizes. */
export interface SizeClasses<Buf> {
  /** Buffers of one class can hold each other's tensors (the same element storage). */
  classOf(spec: SlotSpec): string
  /** How much of a buffer of its class a tensor takes, in any unit the class shares (elements, bytes). */
  sizeOf(spec: SlotSpec): number
  /**
   * The part of a larger buffer that holds a tensor of `spec`, for kernels that take a tensor's size
   * from its buffer; devices whose kernels take sizes from the node return the buffer itself.
   */
  view(buffer: Buf, spec: SlotSpec): Buf
}

/** What planning needs of a device, and nothing more. */
export interface PlanTarget {
  /** The composites the device runs fused (keys of its fused launchers); the rest become primitives. */
  readonly fused: { readonly [Op in CompositeOp]?: unknown }
  /** Buffers with equal keys are interchangeable, so a dead one can hold a later node. */
  poolKey(spec: SlotSpec): string
  /**
   * Where set, a dead buffer holds any later node of its class that fits, not only one of equal
   * `poolKey`, and the plan needs far less memory.
   */
  readonly sizeClasses?: Pick<SizeClasses<unknown>, "classOf" | "sizeOf"> | undefined
}

/** One node to compute, from the slots of its inputs into the slot of its output. */
export interface PlanStep {
  readonly node: Tensor
  readonly inputs: ReadonlyArray<number>
  readonly output: number
}

/** A graph turned into a fixed list of node computations over numbered buffer slots. */
export interface ExecutionPlan {
  readonly analyzed: AnalyzedGraph
  readonly steps: ReadonlyArray<PlanStep>
  /** Slot of every node; sources map to caller buffers bound per run. */
  readonly slotOf: ReadonlyMap<number, number>
  readonly slotSpecs: ReadonlyArray<SlotSpec>
  readonly inputSlots: ReadonlyMap<string, number>
  readonly stateSlots: ReadonlyMap<string, number>
}

/**
 * Updates are written into their states before outputs are read, one after another. So an update whose
 * value is another updated state (a swap), and an output that is an updated state, would see the state
 * already overwritten; such a value becomes a copy computed with the rest of the graph, which holds the
 * state as it was before the run.
 */
const copyOverwrittenStates = (graph: Graph): Graph => {
  const updates = graph.updates
  if (!updates) return graph
  const overwritten = (value: Tensor, name: string | undefined): boolean => {
    if (value.op !== "state") return false
    const source = (value as Tensor<"state">).attrs.name
    return source !== name && Object.hasOwn(updates, source) && updates[source] !== value
  }
  const copy = (value: Tensor) =>
    new Tensor("reshape", [value], { shape: value.shape }, value.shape, value.dtype)
  const copied = (entries: Record<string, Tensor>, named: boolean) =>
    Object.fromEntries(
      Object.entries(entries).map(([name, value]) => [
        name,
        overwritten(value, named ? name : undefined) ? copy(value) : value,
      ]),
    )
  return { outputs: copied(graph.outputs, false), updates: copied(updates, true) }
}

/** Ops that only widen, reshape or cut a value: computing one again costs a copy, no arithmetic. */
const viewOps: ReadonlySet<string> = new Set(["cast", "reshape", "permute", "slice"])

/**
 * Whether `node` is a view of a weight: a cast, reshape, transpose or slice of a state (or of such a view),
 * as models read weights (a linear layer's transposed weight, `WeightScope`'s f32 read of a half weight),
 * and not itself an output.
 */
const weightViewTest = (graph: Graph) => {
  const pinned = new Set(
    [...Object.values(graph.outputs), ...Object.values(graph.updates ?? {})].map((t) => t.id),
  )
  const known = new Map<number, boolean>()
  const isWeightView = (node: Tensor): boolean => {
    const cached = known.get(node.id)
    if (cached !== undefined) return cached
    const source = node.inputs[0]
    const result =
      viewOps.has(node.op) &&
      !pinned.has(node.id) &&
      source !== undefined &&
      (source.op === "state" || isWeightView(source))
    known.set(node.id, result)
    return result
  }
  return isWeightView
}

/**
 * Gives every reader of a weight view its own copy of the view. One shared copy would live from the
 * forward pass's read to the backward pass's — a training step would hold a transposed copy of every
 * weight, and an f32 copy of every half weight under `mixed_precision`, across the whole step; `placeViews`
 * then computes each copy right before its reader, so it lives for one step (ADR 0011 §2 does the same for
 * ONNX Runtime). The price is a copy per read.
 */
const copyViewsPerReader = (graph: Graph): { readonly graph: Graph; readonly views: ReadonlySet<Tensor> } => {
  const isWeightView = weightViewTest(graph)
  const views = new Set<Tensor>()
  const rewritten = new Map<number, Tensor>()
  const copyOf = (view: Tensor): Tensor => {
    const source = view.inputs[0]!
    const copy = new Tensor(
      view.op,
      [isWeightView(source) ? copyOf(source) : source],
      view.attrs,
      view.shape,
      view.dtype,
    )
    views.add(copy)
    return copy
  }
  const roots = [...Object.values(graph.outputs), ...Object.values(graph.updates ?? {})]
  for (const node of topologicalOrder(roots)) {
    if (isWeightView(node)) continue
    const inputs = node.inputs.map((input) =>
      isWeightView(input) ? copyOf(input) : (rewritten.get(input.id) ?? input),
    )
    rewritten.set(
      node.id,
      inputs.some((input, i) => input !== node.inputs[i])
        ? new Tensor(node.op, inputs, node.attrs, node.shape, node.dtype)
        : node,
    )
  }
  const mapped = (record: Readonly<Record<string, Tensor>>) =>
    Object.fromEntries(Object.entries(record).map(([name, t]) => [name, rewritten.get(t.id) ?? t]))
  const rewrittenGraph = graph.updates
    ? { outputs: mapped(graph.outputs), updates: mapped(graph.updates) }
    : { outputs: mapped(graph.outputs) }
  return { graph: rewrittenGraph, views }
}

/** `order` with each weight view moved to just before its one reader (see `copyViewsPerReader`). */
const placeViews = (order: ReadonlyArray<Tensor>, views: ReadonlySet<Tensor>): Array<Tensor> => {
  const placed: Array<Tensor> = []
  const placeViewsOf = (node: Tensor) => {
    for (const input of node.inputs)
      if (views.has(input)) {
        placeViewsOf(input)
        placed.push(input)
      }
  }
  for (const node of order) {
    if (views.has(node)) continue
    placeViewsOf(node)
    placed.push(node)
  }
  return placed
}

/** A computed node and the steps its value must survive: from its own to its last reader's. */
interface Lifetime {
  readonly node: Tensor
  readonly first: number
  /** `Infinity` for outputs and update values, which are read after the last step. */
  readonly last: number
}

/**
 * Walks the order once, handing each node the most recently freed slot of its pool key; a node's slot is
 * freed only after its last reader has taken its own, so a kernel never writes over its input.
 */
const shareByKey = (
  poolKey: (spec: SlotSpec) => string,
  lifetimes: ReadonlyArray<Lifetime>,
  slotOf: Map<number, number>,
  newSlot: (spec: SlotSpec) => number,
): void => {
  const free = new Map<string, Array<number>>()
  const dyingAt = new Map<number, Array<Tensor>>()
  for (const { node, last } of lifetimes) dyingAt.set(last, [...(dyingAt.get(last) ?? []), node])
  for (const { node, first } of lifetimes) {
    slotOf.set(node.id, free.get(poolKey(node))?.pop() ?? newSlot(node))
    for (const dead of dyingAt.get(first) ?? []) {
      const key = poolKey(dead)
      const list = free.get(key) ?? []
      list.push(slotOf.get(dead.id)!)
      free.set(key, list)
    }
  }
}

/**
 * Greedy by size: the largest nodes are placed first, each in the smallest slot of its class that is
 * free for its whole lifetime (every slot is as large as its first node), else in a new slot. Outputs
 * and update values only share a slot of exactly their size, so callers read them whole.
 */
const shareBySize = (
  classes: NonNullable<PlanTarget["sizeClasses"]>,
  lifetimes: ReadonlyArray<Lifetime>,
  slotOf: Map<number, number>,
  newSlot: (spec: SlotSpec) => number,
): void => {
  const largestFirst = [...lifetimes].sort(
    (a, b) => classes.sizeOf(b.node) - classes.sizeOf(a.node) || a.first - b.first,
  )
  const byClass = new Map<string, Array<{ slot: number; size: number; spans: Array<Lifetime> }>>()
  for (const lifetime of largestFirst) {
    const { node, first, last } = lifetime
    const size = classes.sizeOf(node)
    const kin = byClass.get(classes.classOf(node)) ?? []
    byClass.set(classes.classOf(node), kin)
    let chosen: (typeof kin)[number] | undefined
    // Slots were made largest first, so walking back meets the smallest first.
    for (let i = kin.length - 1; i >= 0 && chosen === undefined; i--) {
      const candidate = kin[i]!
      if (last === Number.POSITIVE_INFINITY && candidate.size !== size) break
      if (candidate.spans.every((span) => span.last < first || last < span.first)) chosen = candidate
    }
    if (chosen === undefined) {
      chosen = { slot: newSlot(node), size, spans: [] }
      kin.push(chosen)
    }
    chosen.spans.push(lifetime)
    slotOf.set(node.id, chosen.slot)
  }
}

/**
 * Orders the nodes and assigns each computed node a buffer slot, sharing the slot of nodes whose last
 * reader has run: of equal pool key, or with the target's `sizeClasses` any of the class that fits (see
 * `shareBySize`). Outputs and update values keep their slots to the end.
 */
export const planExecution = (target: PlanTarget, graph: Graph): ExecutionPlan => {
  const keep = new Set(Object.keys(target.fused) as Array<CompositeOp>)
  const { graph: viewed, views } = copyViewsPerReader(copyOverwrittenStates(lowerComposites(graph, keep)))
  const planned = analyzeGraph(viewed)
  const analyzed = { ...planned, order: placeViews(planned.order, views) }
  const { order } = analyzed
  const lastUse = new Map<number, number>()
  order.forEach((node, i) => {
    for (const input of node.inputs) lastUse.set(input.id, i)
  })
  const pinned = new Set(
    [...Object.values(analyzed.graph.outputs), ...Object.values(analyzed.graph.updates ?? {})].map(
      (t) => t.id,
    ),
  )

  const slotOf = new Map<number, number>()
  const slotSpecs: Array<SlotSpec> = []
  const inputSlots = new Map<string, number>()
  const stateSlots = new Map<string, number>()
  const newSlot = ({ shape, dtype }: SlotSpec): number => slotSpecs.push({ shape, dtype }) - 1
  const lifetimes: Array<Lifetime> = []
  order.forEach((node, i) => {
    if (node.op === "input" || node.op === "state") {
      const slots = node.op === "input" ? inputSlots : stateSlots
      const name = (node as Tensor<"input" | "state">).attrs.name
      const slot = slots.get(name) ?? newSlot(node)
      slots.set(name, slot)
      slotOf.set(node.id, slot)
    } else {
      const last = pinned.has(node.id) ? Number.POSITIVE_INFINITY : (lastUse.get(node.id) ?? i)
      lifetimes.push({ node, first: i, last })
    }
  })
  const classes = target.sizeClasses
  if (classes) shareBySize(classes, lifetimes, slotOf, newSlot)
  else shareByKey((spec) => target.poolKey(spec), lifetimes, slotOf, newSlot)

  const steps = lifetimes.map(
    ({ node }): PlanStep => ({
      node,
      inputs: node.inputs.map((t) => slotOf.get(t.id)!),
      output: slotOf.get(node.id)!,
    }),
  )
  return { analyzed, steps, slotOf, slotSpecs, inputSlots, stateSlots }
}
