import { Effect, Semaphore } from "effect"
import { type BackendError, ProgramInputError } from "../errors.js"
import { type AnalyzedGraph, analyzeGraph, type Graph, type TensorSpec } from "../graph/graph.js"
import { lowerComposites } from "../graph/lowerComposites.js"
import type { CompositeOp } from "../ops/composites.js"
import { isComposite } from "../ops/opName.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import { Tensor } from "../tensor/tensor.js"
import { asBackendError } from "./asBackendError.js"
import type { BackendShape, Capabilities, DeviceBuffer, Program } from "./Backend.js"
import { bindRun } from "./bindRun.js"
import type { FusedKernels, Kernel, KernelTable } from "./kernels.js"
import { makeProgramCache } from "./programCache.js"

/** A device driven by core's generic executor: it supplies storage and one kernel per primitive. */
export interface KernelDevice<Buf> {
  readonly name: string
  readonly kernels: KernelTable<Buf>
  readonly fused: FusedKernels<Buf>
  allocate(spec: Omit<TensorSpec, "name">): Buf
  /** Frees device memory; devices whose storage the garbage collector reclaims leave it out. */
  release?(buffer: Buf): void
  fromHost(tensor: HostTensor): Buf
  toHost(buffer: Buf, spec: Omit<TensorSpec, "name">): Promise<HostTensor>
  copy(from: Buf, to: Buf, spec: Omit<TensorSpec, "name">): void
  /** Buffers with equal keys are interchangeable, so a dead one can hold a later node. */
  poolKey(spec: Omit<TensorSpec, "name">): string
  /**
   * Where set, a dead buffer holds any later node of its class that fits, not only one of equal
   * `poolKey`, and the largest dead one grows where none fits: the plan then needs far less memory.
   */
  readonly sizeClasses?: SizeClasses<Buf>
}

/** How a device lets one buffer hold tensors of different sizes. */
export interface SizeClasses<Buf> {
  /** Buffers of one class can hold each other's tensors (the same element storage). */
  classOf(spec: Omit<TensorSpec, "name">): string
  /** How much of a buffer of its class a tensor takes, in any unit the class shares (elements, bytes). */
  sizeOf(spec: Omit<TensorSpec, "name">): number
  /**
   * The part of a larger buffer that holds a tensor of `spec`, for kernels that take a tensor's size
   * from its buffer; devices whose kernels take sizes from the node return the buffer itself.
   */
  view(buffer: Buf, spec: Omit<TensorSpec, "name">): Buf
}

/** A device buffer of the generic executor. */
export class KernelBuffer<Buf> implements DeviceBuffer {
  constructor(
    readonly backend: string,
    readonly dtype: DeviceBuffer["dtype"],
    readonly shape: DeviceBuffer["shape"],
    readonly storage: Buf,
  ) {}
}

interface Step<Buf> {
  readonly node: Tensor
  readonly kernel: Kernel<never, Buf>
  readonly inputs: ReadonlyArray<number>
  readonly output: number
  readonly args: Array<Buf>
  /** Which inputs, and whether the output, sit in a larger slot and reach the kernel as a view. */
  readonly inputViews: ReadonlyArray<boolean>
  readonly outputView: boolean
}

/** A graph turned into a fixed list of kernel calls over numbered buffer slots. */
export interface ExecutionPlan<Buf> {
  readonly analyzed: AnalyzedGraph
  readonly steps: ReadonlyArray<Step<Buf>>
  /** Slot of every node; sources map to caller buffers bound per run. */
  readonly slotOf: ReadonlyMap<number, number>
  readonly slotSpecs: ReadonlyArray<Omit<TensorSpec, "name">>
  readonly inputSlots: ReadonlyMap<string, number>
  readonly stateSlots: ReadonlyMap<string, number>
}

/**
 * Updates are copied into their states one after another, so an update whose value is another updated
 * state (a swap) would read that state already overwritten. Such a value becomes a copy computed with
 * the rest of the graph, which holds the state as it was before the run.
 */
const copyStateUpdates = (graph: Graph): Graph => {
  const updates = graph.updates
  if (!updates) return graph
  const overwritten = (value: Tensor, name: string): boolean => {
    if (value.op !== "state") return false
    const source = (value as Tensor<"state">).attrs.name
    return source !== name && Object.hasOwn(updates, source)
  }
  const copied = Object.entries(updates).map(([name, value]) => [
    name,
    overwritten(value, name)
      ? new Tensor("reshape", [value], { shape: value.shape }, value.shape, value.dtype)
      : value,
  ])
  return { outputs: graph.outputs, updates: Object.fromEntries(copied) }
}

type SlotSpec = Omit<TensorSpec, "name">

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
const shareBySize = <Buf>(
  classes: SizeClasses<Buf>,
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
 * reader has run: of equal pool key, or with the device's `sizeClasses` any of the class that fits (see
 * `shareBySize`). Outputs and update values keep their slots to the end.
 */
export const planExecution = <Buf>(device: KernelDevice<Buf>, graph: Graph): ExecutionPlan<Buf> => {
  const keep = new Set(Object.keys(device.fused) as Array<CompositeOp>)
  const analyzed = analyzeGraph(copyStateUpdates(lowerComposites(graph, keep)))
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
  const classes = device.sizeClasses
  if (classes) shareBySize(classes, lifetimes, slotOf, newSlot)
  else shareByKey((spec) => device.poolKey(spec), lifetimes, slotOf, newSlot)

  const inLargerSlot = (t: Tensor): boolean =>
    classes !== undefined && classes.sizeOf(t) < classes.sizeOf(slotSpecs[slotOf.get(t.id)!]!)
  const steps = lifetimes.map(({ node }): Step<Buf> => {
    const kernel = isComposite(node.op)
      ? device.fused[node.op]
      : device.kernels[node.op as keyof KernelTable<Buf>]
    return {
      node,
      kernel: kernel as Kernel<never, Buf>,
      inputs: node.inputs.map((t) => slotOf.get(t.id)!),
      output: slotOf.get(node.id)!,
      args: new Array<Buf>(node.inputs.length),
      inputViews: node.inputs.map(inLargerSlot),
      outputView: inLargerSlot(node),
    }
  })
  return { analyzed, steps, slotOf, slotSpecs, inputSlots, stateSlots }
}

/**
 * Runs every step of a plan over `slots` (sources already bound), allocating a slot's buffer the first
 * time it is needed and keeping it for later runs. A kernel's typed error is thrown as itself; any other
 * failure becomes a `BackendExecutionError` naming the node.
 */
export const executePlan = <Buf>(
  device: KernelDevice<Buf>,
  plan: ExecutionPlan<Buf>,
  slots: Array<Buf | undefined>,
): void => {
  const classes = device.sizeClasses
  for (const step of plan.steps) {
    let out = slots[step.output]
    if (out === undefined) {
      out = device.allocate(plan.slotSpecs[step.output]!)
      slots[step.output] = out
    }
    if (step.outputView) out = classes!.view(out, step.node)
    for (let j = 0; j < step.inputs.length; j++) {
      const buffer = slots[step.inputs[j]!]!
      step.args[j] = step.inputViews[j] ? classes!.view(buffer, step.node.inputs[j]!) : buffer
    }
    try {
      step.kernel(step.node as never, step.args, out)
    } catch (cause) {
      throw asBackendError(cause, device.name, "", step.node.op)
    }
  }
}

/** How a kernel backend keeps programs. */
export interface KernelBackendOptions {
  /** Compiled programs kept for reuse once nothing holds them (default 4), one per graph shape. */
  readonly cachedPrograms?: number
}

/**
 * Turns a kernel device into a `Backend`, with core's generic executor doing the scheduling. Programs
 * are cached by graph shape; the garbage collector reclaims those still cached when the backend goes.
 */
export const makeKernelBackend = <Buf>(
  device: KernelDevice<Buf>,
  capabilities: Capabilities,
  describe: BackendShape["describe"],
  options: KernelBackendOptions = {},
): BackendShape => {
  const cache = makeProgramCache(options.cachedPrograms ?? 4)
  const failure = (context: string) => (cause: unknown) => asBackendError(cause, device.name, context)
  const toHost = (buffer: Buf, spec: Omit<TensorSpec, "name">): Effect.Effect<HostTensor, BackendError> =>
    Effect.tryPromise({ try: () => device.toHost(buffer, spec), catch: failure("reading a buffer back") })
  const own = (buffer: DeviceBuffer, name: string): Effect.Effect<Buf, ProgramInputError> =>
    buffer instanceof KernelBuffer && buffer.backend === device.name
      ? Effect.succeed(buffer.storage as Buf)
      : Effect.fail(
          new ProgramInputError({
            name,
            detail: `the buffer belongs to ${buffer.backend}, not ${device.name}`,
          }),
        )

  const compileUncached = (graph: Graph) =>
    Effect.try({
      try: () => planExecution(device, graph),
      catch: failure("cannot plan the graph"),
    }).pipe(
      Effect.flatMap((plan) => {
        const slots = new Array<Buf | undefined>(plan.slotSpecs.length)
        // One set of slots per program: concurrent runs take turns rather than overwrite each other's buffers.
        const running = Semaphore.makeUnsafe(1)
        const run: Program["run"] = (inputs, states = {}) => {
          const staged: Array<Buf> = []
          return Effect.gen(function* () {
            yield* bindRun(
              plan,
              slots,
              inputs,
              states,
              (_, host) => {
                const buffer = device.fromHost(host)
                staged.push(buffer)
                return buffer
              },
              own,
            )
            yield* Effect.try({
              try: () => executePlan(device, plan, slots),
              catch: failure("running the program"),
            })
            const results: Record<string, HostTensor> = {}
            for (const spec of plan.analyzed.outputs) {
              const node = plan.analyzed.graph.outputs[spec.name]!
              results[spec.name] = yield* toHost(slots[plan.slotOf.get(node.id)!]!, spec)
            }
            for (const spec of plan.analyzed.updates) {
              const node = plan.analyzed.graph.updates![spec.name]!
              device.copy(slots[plan.slotOf.get(node.id)!]!, slots[plan.stateSlots.get(spec.name)!]!, spec)
            }
            return results
          }).pipe(
            Effect.ensuring(
              Effect.sync(() => {
                for (const buffer of staged) device.release?.(buffer)
              }),
            ),
            running.withPermits(1),
          )
        }
        const bound = new Set([...plan.inputSlots.values(), ...plan.stateSlots.values()])
        const releaseSlots = Effect.sync(() =>
          slots.forEach((buffer, slot) => {
            if (buffer !== undefined && !bound.has(slot)) device.release?.(buffer)
          }),
        )
        const program: Program = {
          analyzed: plan.analyzed,
          inputs: plan.analyzed.inputs,
          states: plan.analyzed.states,
          outputs: plan.analyzed.outputs,
          run,
        }
        return Effect.as(
          Effect.addFinalizer(() => releaseSlots),
          program,
        )
      }),
    )

  return {
    name: device.name,
    capabilities,
    describe,
    upload: (tensor) =>
      Effect.acquireRelease(
        Effect.sync(() => new KernelBuffer(device.name, tensor.dtype, tensor.shape, device.fromHost(tensor))),
        (buffer) => Effect.sync(() => device.release?.(buffer.storage)),
      ),
    download: (buffer) =>
      own(buffer, "download").pipe(
        Effect.flatMap((storage) => toHost(storage, { shape: buffer.shape, dtype: buffer.dtype })),
      ),
    compile: (graph) => cache.compile(graph, compileUncached(graph)),
  }
}
