import {
  asBackendError,
  type BackendError,
  BackendExecutionError,
  bindRun,
  type DeviceBuffer,
  type Graph,
  type HostTensor,
  KernelBuffer,
  type Program,
  ProgramInputError,
  planExecution,
} from "@danlu/core"
import { Effect, type Scope } from "effect"
import { backendName } from "../device/acquireDevice.js"
import { withErrorScopes } from "../device/errorScopes.js"
import type { GpuContext } from "../device/gpuContext.js"
import { ensureAlive, lostOr } from "../device/lost.js"
import {
  bufferBytes,
  createFilledBuffer,
  createReadbackBuffer,
  deviceBytesOf,
  hostTensorOf,
} from "../device/storage.js"
import { MapMode } from "../device/usage.js"
import { createBindGroup, recordCommands } from "../kernels/encode.js"
import type { Command, ComputeCommand, Operand } from "../kernels/launch.js"
import { fusedLaunchers, launchers } from "../kernels/table.js"
import { activationPoolOf } from "./activationPool.js"
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
 * Compiles a graph for the device: core plans the order and the buffer slots (sharing a slot once its
 * last reader has run), each node's launcher picks pipelines and parameters once, and the params blocks
 * and readback buffers are made here. The activation slots come from the device's shared pool at run
 * time (`activationPoolOf`), so programs of one device hold the largest one's activations, not the sum.
 * A run uploads inputs, records the dispatches into one command buffer, submits it and reads back.
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
      // bf16 weights are held packed two to a u32; strided-map kernels (a cast to f32) read them.
      const held = node.dtype === "bf16" && (node.op === "state" || node.op === "input")
      if (!held && !gpu.capabilities.dtypes.includes(node.dtype)) {
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

    const pool = activationPoolOf(gpu)
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
    // Every slot but the states (the caller's) comes from the device's shared pool, largest first.
    const leased = plan.slotSpecs
      .flatMap((spec, slot) => (stateSlots.has(slot) ? [] : [{ slot, bytes: bufferBytes(spec) }]))
      .sort((a, b) => b.bytes - a.bytes)
    const leasedBytes = leased.map(({ bytes }) => bytes)
    const { commands, staging } = yield* withErrorScopes(
      gpu,
      "compiling the program",
      undefined,
      Effect.try({
        try: () => {
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
          return { commands, staging }
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
      pool.turn.withPermits(1)(
        Effect.gen(function* () {
          yield* ensureAlive(gpu)
          yield* withErrorScopes(
            gpu,
            "allocating activations",
            leasedBytes.reduce((a, b) => a + b, 0),
            Effect.sync(() => pool.reserve(leasedBytes)),
          )
          const bound = new Array<GPUBuffer | undefined>(plan.slotSpecs.length)
          leased.forEach(({ slot }, i) => {
            bound[slot] = pool.buffers[i]
          })
          yield* bindRun(
            plan,
            bound,
            inputs,
            states,
            (name, host) => {
              const buffer = bound[plan.inputSlots.get(name)!]!
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
