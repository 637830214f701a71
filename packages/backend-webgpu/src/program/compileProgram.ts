import {
  asBackendError,
  type BackendError,
  BackendExecutionError,
  bindRun,
  type DeviceBuffer,
  DeviceOutOfMemory,
  type Graph,
  type HostTensor,
  KernelBuffer,
  lowerForMemory,
  type Program,
  ProgramInputError,
  planExecution,
} from "@danlu/core"
import { Effect, type Scope, Semaphore } from "effect"
import { backendName } from "../device/acquireDevice.js"
import type { GpuContext } from "../device/gpuContext.js"
import { ensureAlive, lostOr } from "../device/lost.js"
import {
  bufferBytes,
  createFilledBuffer,
  createReadbackBuffer,
  createTensorBuffer,
  deviceBytesOf,
  hostTensorOf,
} from "../device/storage.js"
import { MapMode } from "../device/usage.js"
import { createBindGroup, recordCommands } from "../kernels/encode.js"
import type { Command, ComputeCommand, Operand } from "../kernels/launch.js"
import { fusedLaunchers, launchers } from "../kernels/table.js"
import { kernelDeviceOf } from "./kernelDevice.js"

/** A command with its operands resolved to slots of the plan or to buffers the program owns. */
interface BoundCommand {
  readonly command: Command
  readonly operands: ReadonlyArray<number | GPUBuffer>
  readonly params: GPUBuffer | undefined
  bindGroup: { readonly buffers: ReadonlyArray<GPUBuffer>; readonly group: GPUBindGroup } | undefined
}

const failure = (op: string | undefined, detail: string) =>
  new BackendExecutionError({ backend: backendName, op, detail })

const describeCause = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * Pops a device error scope pushed before `effect`, turning a captured error into a typed one;
 * `bytes` is what `effect` allocates, where that is known.
 */
const withErrorScopes = <A, E>(
  gpu: GpuContext,
  what: string,
  bytes: number | undefined,
  effect: Effect.Effect<A, E>,
): Effect.Effect<A, E | BackendError> =>
  Effect.gen(function* () {
    const { device } = gpu
    device.pushErrorScope("internal")
    device.pushErrorScope("out-of-memory")
    device.pushErrorScope("validation")
    const result = yield* Effect.exit(effect)
    const [validation, memory, internal] = yield* Effect.tryPromise({
      try: () => Promise.all([device.popErrorScope(), device.popErrorScope(), device.popErrorScope()]),
      catch: lostOr(gpu, what),
    })
    if (memory) {
      return yield* new DeviceOutOfMemory({
        backend: backendName,
        requestedBytes: bytes,
        detail: `${what}: ${memory.message}`,
        lower: lowerForMemory,
      })
    }
    if (validation ?? internal)
      return yield* failure(undefined, `${what}: ${(validation ?? internal)!.message}`)
    return yield* result
  })

/**
 * Compiles a graph for the device: core plans the order and the buffer slots (reusing a slot once its
 * last reader has run), each node's launcher picks pipelines and parameters once, and every buffer,
 * params block and bind group is made here. A run then only uploads inputs, records the dispatches
 * into one command buffer, submits it and reads the outputs back.
 */
export const compileProgram = (
  gpu: GpuContext,
  graph: Graph,
): Effect.Effect<Program, BackendError, Scope.Scope> =>
  Effect.gen(function* () {
    yield* ensureAlive(gpu)
    const { device } = gpu
    const plan = yield* Effect.try({
      try: () => planExecution(kernelDeviceOf(gpu), graph),
      catch: (cause) => asBackendError(cause, backendName, "cannot plan the graph"),
    })
    for (const node of plan.analyzed.order) {
      if (!gpu.capabilities.dtypes.includes(node.dtype)) {
        return yield* failure(
          node.op,
          `${node.dtype} is not supported on this device (it supports ${gpu.capabilities.dtypes.join(", ")}); cast first`,
        )
      }
      const bytes = bufferBytes(node)
      if (bytes > gpu.maxBindingBytes) {
        return yield* failure(
          node.op,
          `a [${node.shape.join(",")}] ${node.dtype} tensor takes ${bytes} bytes, more than this device's maxStorageBufferBindingSize of ${gpu.maxBindingBytes} bytes; use a smaller batch or tile the work`,
        )
      }
    }

    const owned: Array<GPUBuffer> = []
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const buffer of owned) buffer.destroy()
      }),
    )
    const own = (buffer: GPUBuffer) => {
      owned.push(buffer)
      return buffer
    }

    const stateSlots = new Set(plan.stateSlots.values())
    const slotBytes = plan.slotSpecs.reduce(
      (sum, spec, slot) => (stateSlots.has(slot) ? sum : sum + bufferBytes(spec)),
      0,
    )
    const { slots, commands, staging } = yield* withErrorScopes(
      gpu,
      "compiling the program",
      slotBytes,
      Effect.try({
        try: () => {
          const slots = new Array<GPUBuffer | undefined>(plan.slotSpecs.length)
          plan.slotSpecs.forEach((spec, slot) => {
            if (!stateSlots.has(slot))
              slots[slot] = own(createTensorBuffer(device, bufferBytes(spec), `slot ${slot}`))
          })
          const commands: Array<BoundCommand> = []
          for (const step of plan.steps) {
            const node = step.node
            const launcher =
              (launchers as Record<string, unknown>)[node.op] ??
              (fusedLaunchers as Record<string, unknown>)[node.op]
            let launched: ReadonlyArray<Command>
            try {
              launched = (launcher as (n: typeof node, c: typeof gpu.launch) => ReadonlyArray<Command>)(
                node,
                gpu.launch,
              )
            } catch (cause) {
              throw failure(node.op, describeCause(cause))
            }
            const resolve = (operand: Operand): number | GPUBuffer =>
              operand.kind === "input"
                ? step.inputs[operand.index]!
                : operand.kind === "output"
                  ? step.output
                  : own(createFilledBuffer(device, operand.bytes, `${node.op} data`))
            for (const command of launched) {
              const operands =
                command.kind === "compute"
                  ? command.operands.map(resolve)
                  : [resolve(command.from), resolve(command.to)]
              const params =
                command.kind === "compute"
                  ? own(
                      createFilledBuffer(device, new Uint8Array(command.params.buffer), `${node.op} params`),
                    )
                  : undefined
              commands.push({ command, operands, params, bindGroup: undefined })
            }
          }
          const staging = plan.analyzed.outputs.map((spec) =>
            own(createReadbackBuffer(device, bufferBytes(spec))),
          )
          return { slots, commands, staging }
        },
        catch: (cause) => asBackendError(cause, backendName, ""),
      }),
    )

    const bindGroupOf = (
      command: ComputeCommand,
      buffers: ReadonlyArray<GPUBuffer>,
      index: number,
    ): GPUBindGroup => {
      const bound = commands[index]!
      const cached = bound.bindGroup
      if (cached?.buffers.every((b, i) => b === buffers[i])) return cached.group
      const group = createBindGroup(device, command, buffers, bound.params!)
      bound.bindGroup = { buffers, group }
      return group
    }

    const outputSlots = plan.analyzed.outputs.map(
      (spec) => plan.slotOf.get(plan.analyzed.graph.outputs[spec.name]!.id)!,
    )
    const updates = plan.analyzed.updates.map((spec) => ({
      spec,
      from: plan.slotOf.get(plan.analyzed.graph.updates![spec.name]!.id)!,
      to: plan.stateSlots.get(spec.name)!,
    }))
    const inputBuffers = new Map([...plan.inputSlots].map(([name, slot]) => [name, slots[slot]!]))
    const running = yield* Semaphore.make(1)

    const deviceBufferOf = (
      value: DeviceBuffer,
      name: string,
    ): Effect.Effect<GPUBuffer, ProgramInputError> =>
      value instanceof KernelBuffer && value.backend === backendName
        ? Effect.succeed(value.storage as GPUBuffer)
        : Effect.fail(
            new ProgramInputError({
              name,
              detail: `the buffer belongs to ${value.backend}, not ${backendName}`,
            }),
          )

    const submit = (bound: Array<GPUBuffer | undefined>) =>
      Effect.sync(() => {
        const encoder = device.createCommandEncoder({ label: "danlu run" })
        const bufferOf = (operand: number | GPUBuffer) =>
          typeof operand === "number" ? bound[operand]! : operand
        recordCommands(
          encoder,
          commands.map(({ command, operands }) => ({ command, buffers: operands.map(bufferOf) })),
          bindGroupOf,
        )
        plan.analyzed.outputs.forEach((spec, i) => {
          encoder.copyBufferToBuffer(bound[outputSlots[i]!]!, 0, staging[i]!, 0, bufferBytes(spec))
        })
        for (const { spec, from, to } of updates) {
          if (bound[from] !== bound[to])
            encoder.copyBufferToBuffer(bound[from]!, 0, bound[to]!, 0, bufferBytes(spec))
        }
        device.queue.submit([encoder.finish()])
      })

    const readOutputs = Effect.tryPromise({
      try: async () => {
        await Promise.all(staging.map((buffer) => buffer.mapAsync(MapMode.READ)))
        const results: Record<string, HostTensor> = {}
        plan.analyzed.outputs.forEach((spec, i) => {
          const buffer = staging[i]!
          results[spec.name] = hostTensorOf(buffer.getMappedRange(), spec.dtype, spec.shape)
          buffer.unmap()
        })
        return results
      },
      catch: lostOr(gpu, "reading the outputs back"),
    })

    const run: Program["run"] = (inputs, states = {}) =>
      running.withPermits(1)(
        Effect.gen(function* () {
          yield* ensureAlive(gpu)
          const bound = [...slots]
          yield* bindRun(
            plan,
            bound,
            inputs,
            states,
            (name, host) => {
              const buffer = inputBuffers.get(name)!
              device.queue.writeBuffer(buffer, 0, deviceBytesOf(host))
              return buffer
            },
            deviceBufferOf,
          )
          yield* withErrorScopes(gpu, "running the program", undefined, submit(bound))
          return yield* readOutputs
        }),
      )

    return {
      analyzed: plan.analyzed,
      inputs: plan.analyzed.inputs,
      states: plan.analyzed.states,
      outputs: plan.analyzed.outputs,
      run,
    }
  })
