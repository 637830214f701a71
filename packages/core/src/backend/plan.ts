import { type AnalyzedGraph, analyzeGraph, type Graph, type TensorSpec } from "../graph/graph.js"
import { lowerComposites } from "../graph/lowerComposites.js"
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
  const analyzed = analyzeGraph(copyOverwrittenStates(lowerComposites(graph, keep)))
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
