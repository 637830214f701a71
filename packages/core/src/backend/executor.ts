import { Effect, type Scope } from "effect"
import type { BackendError, ProgramInputError } from "../errors.js"
import { BackendExecutionError } from "../errors.js"
import type { Graph } from "../graph/graph.js"
import { isComposite } from "../ops/opName.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import type { Tensor } from "../tensor/tensor.js"
import { type ActivationPool, makeActivationPool } from "./activationPool.js"
import { asBackendError } from "./asBackendError.js"
import type { BackendShape, Capabilities, DeviceBuffer, Program } from "./Backend.js"
import { bindRun, foreignBuffer } from "./bindRun.js"
import { type BoundCopy, type BoundLaunch, KernelBuffer, type KernelDevice } from "./kernelDevice.js"
import type { Launcher } from "./kernels.js"
import { type ExecutionPlan, planExecution, type SlotSpec } from "./plan.js"
import { makeProgramCache, type ProgramCache } from "./programCache.js"

/** How a kernel backend keeps programs. */
export interface KernelBackendOptions {
  /** Compiled programs kept for reuse once nothing holds them (default 4), one per graph shape. */
  readonly cachedPrograms?: number
  /** The cache to compile through, where its owner closes it (before the device goes); else a new one. */
  readonly cache?: ProgramCache
}

/** A kernel backend, with the activation pool its programs share (for memory figures). */
export interface KernelBackend<Buf> extends BackendShape {
  readonly activations: Pick<ActivationPool<Buf>, "heldBytes">
}

const defaultGuard =
  (backend: string) =>
  <A>(what: string, _bytes: number | undefined, work: () => A): Effect.Effect<A, BackendError> =>
    Effect.try({ try: work, catch: (cause) => asBackendError(cause, backend, what) })

/** Every launch of a plan, asked of the device's launchers once, into `made`; a failing launcher names its op. */
export const launchPlan = <Launch>(
  device: Pick<KernelDevice<unknown, Launch>, "name" | "launchers" | "fused">,
  plan: ExecutionPlan,
  made: Array<Launch> = [],
): Array<Launch> => {
  for (const { node } of plan.steps) {
    const launcher = (
      isComposite(node.op)
        ? device.fused[node.op]
        : device.launchers[node.op as keyof KernelDevice<unknown, Launch>["launchers"]]
    ) as Launcher<never, Launch>
    try {
      made.push(launcher(node as Tensor<never>))
    } catch (cause) {
      throw asBackendError(cause, device.name, "", node.op)
    }
  }
  return made
}

/** A plan's launches bound to the buffers of its slots, each through `view` for its tensor's spec. */
export const bindLaunches = <Buf, Launch>(
  plan: ExecutionPlan,
  launches: ReadonlyArray<Launch>,
  bound: ReadonlyArray<Buf | undefined>,
  view: (buffer: Buf, spec: SlotSpec) => Buf,
): Array<BoundLaunch<Buf, Launch>> =>
  plan.steps.map(({ node, inputs, output }, i) => ({
    node,
    launch: launches[i]!,
    inputs: inputs.map((slot, j) => view(bound[slot]!, node.inputs[j]!)),
    output: view(bound[output]!, node),
  }))

/**
 * Compiles one graph for a kernel device: plan → launch (once per node) → on every run, buffers from
 * the shared pool → bind the run's inputs and states → record (only when the bound buffers changed since
 * the last recording) → replay → read the outputs back.
 */
const compileKernelProgram = <Buf, Launch, Recording>(
  device: KernelDevice<Buf, Launch, Recording>,
  pool: ActivationPool<Buf>,
  graph: Graph,
): Effect.Effect<Program, BackendError, Scope.Scope> =>
  Effect.gen(function* () {
    const guard = device.guard?.bind(device) ?? defaultGuard(device.name)
    const plan = yield* Effect.try({
      try: () => planExecution(device, graph),
      catch: (cause) => asBackendError(cause, device.name, "cannot plan the graph"),
    })
    if (device.unsupported) {
      for (const node of plan.analyzed.order) {
        const problem = device.unsupported(node)
        if (problem !== undefined)
          return yield* new BackendExecutionError({ backend: device.name, op: node.op, detail: problem })
      }
    }
    const launches: Array<Launch> = []
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const launch of launches) device.dispose?.(launch)
      }),
    )
    yield* guard("compiling the program", undefined, () => launchPlan(device, plan, launches))
    yield* pool.join

    const stateSlots = new Set(plan.stateSlots.values())
    // Every slot but the states (the caller's buffers) comes from the pool, inputs included.
    const lease = pool.lease(
      plan.slotSpecs.flatMap((spec, slot) => (stateSlots.has(slot) ? [] : [{ slot, spec }])),
    )
    const classes = device.sizeClasses
    const view = classes
      ? (buffer: Buf, spec: SlotSpec) => classes.view(buffer, spec)
      : (buffer: Buf) => buffer
    const outputs = plan.analyzed.outputs.map((spec) => ({
      spec,
      slot: plan.slotOf.get(plan.analyzed.graph.outputs[spec.name]!.id)!,
    }))
    const updates = plan.analyzed.updates.map((spec) => ({
      spec,
      from: plan.slotOf.get(plan.analyzed.graph.updates![spec.name]!.id)!,
      to: plan.stateSlots.get(spec.name)!,
    }))
    const record = (bound: ReadonlyArray<Buf>): Recording =>
      device.record(
        bindLaunches(plan, launches, bound, view),
        updates.map(
          ({ spec, from, to }): BoundCopy<Buf> => ({
            from: view(bound[from]!, spec),
            to: view(bound[to]!, spec),
            spec,
          }),
        ),
      )
    let recorded: { readonly bound: ReadonlyArray<Buf>; readonly recording: Recording } | undefined
    const recordingFor = (bound: ReadonlyArray<Buf>): Recording => {
      if (recorded === undefined || recorded.bound.some((buffer, slot) => buffer !== bound[slot]))
        recorded = { bound, recording: record(bound) }
      return recorded.recording
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        recorded = undefined
      }),
    )

    const own = ownerOf<Buf>(device)
    const read = reader<Buf>(device)
    const run: Program["run"] = (inputs, states = {}) =>
      pool.turn.withPermits(1)(
        Effect.gen(function* () {
          const leased = yield* guard("allocating activations", lease.bytes, () => pool.reserve(lease))
          const bound = new Array<Buf>(plan.slotSpecs.length)
          lease.slots.forEach((slot, i) => {
            bound[slot] = leased[i]!
          })
          yield* bindRun<Buf>(plan.analyzed, inputs, states, {
            stage: (spec, host) => {
              const buffer = bound[plan.inputSlots.get(spec.name)!]!
              device.write(view(buffer, spec), host)
              return buffer
            },
            own,
            bind: (kind, spec, buffer) => {
              bound[(kind === "input" ? plan.inputSlots : plan.stateSlots).get(spec.name)!] = buffer
            },
          })
          yield* guard("running the program", undefined, () => device.replay(recordingFor(bound)))
          const results: Record<string, HostTensor> = {}
          for (const { spec, slot } of outputs)
            results[spec.name] = yield* read(view(bound[slot]!, spec), spec)
          return results
        }),
      )

    const program: Program = {
      analyzed: plan.analyzed,
      inputs: plan.analyzed.inputs,
      states: plan.analyzed.states,
      outputs: plan.analyzed.outputs,
      run,
    }
    return program
  })

const ownerOf =
  <Buf>(device: { readonly name: string }) =>
  (buffer: DeviceBuffer, name: string): Effect.Effect<Buf, ProgramInputError> =>
    buffer instanceof KernelBuffer && buffer.backend === device.name
      ? Effect.succeed(buffer.storage as Buf)
      : Effect.fail(foreignBuffer(buffer, name, device.name))

const reader =
  <Buf>(device: Pick<KernelDevice<Buf>, "name" | "toHost">) =>
  (buffer: Buf, spec: SlotSpec): Effect.Effect<HostTensor, BackendError> =>
    Effect.tryPromise({
      try: () => device.toHost(buffer, spec),
      catch: (cause) => asBackendError(cause, device.name, "reading a buffer back"),
    })

/**
 * Turns a kernel device into a `Backend`: core plans, allocates from one activation pool that all its
 * programs share, binds, records and replays; the device supplies launchers and storage. Programs are
 * cached by graph shape.
 */
export const makeKernelBackend = <Buf, Launch, Recording>(
  device: KernelDevice<Buf, Launch, Recording>,
  capabilities: Capabilities,
  describe: BackendShape["describe"],
  options: KernelBackendOptions = {},
): KernelBackend<Buf> => {
  const cache = options.cache ?? makeProgramCache(options.cachedPrograms ?? 4)
  const pool = makeActivationPool<Buf>(device)
  const guard = device.guard?.bind(device) ?? defaultGuard(device.name)
  const own = ownerOf<Buf>(device)
  const read = reader<Buf>(device)
  return {
    name: device.name,
    capabilities,
    describe,
    activations: pool,
    upload: (tensor) =>
      Effect.acquireRelease(
        guard(
          "uploading a tensor",
          device.bytesOf(tensor),
          () => new KernelBuffer(device.name, tensor.dtype, tensor.shape, device.fromHost(tensor)),
        ),
        (buffer) => Effect.sync(() => device.release?.(buffer.storage)),
      ),
    download: (buffer) =>
      own(buffer, "download").pipe(
        Effect.flatMap((storage) => read(storage, { shape: buffer.shape, dtype: buffer.dtype })),
      ),
    compile: (graph) => cache.compile(graph, compileKernelProgram(device, pool, graph)),
  }
}
