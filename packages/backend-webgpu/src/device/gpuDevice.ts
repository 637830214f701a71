import { asBackendError, type KernelDevice, type LauncherTable } from "@danlu/core"
import { Effect } from "effect"
import { encodeCommands, type RecordedCommand } from "../kernels/encode.js"
import type { Command, Launcher, Operand } from "../kernels/launch.js"
import { fusedLaunchers, launchers } from "../kernels/table.js"
import { backendName } from "./acquireDevice.js"
import { bindGroupsOf } from "./bindGroups.js"
import { withErrorScopes } from "./errorScopes.js"
import type { GpuContext } from "./gpuContext.js"
import { ensureAlive, lostError, lostOr } from "./lost.js"
import { type ParamsBlock, paramsStoreOf } from "./paramsStore.js"
import {
  bufferBytes,
  createFilledBuffer,
  createTensorBuffer,
  deviceBytesOf,
  hostTensorOf,
  readBuffer,
} from "./storage.js"

/** A node's commands with the buffers they own (params blocks, constants), made once at compile time. */
interface GpuLaunch {
  readonly commands: ReadonlyArray<PreparedCommand>
  readonly owned: ReadonlyArray<GPUBuffer>
  readonly params: ReadonlyArray<ParamsBlock>
}

/** A command whose `data` operands are buffers now, and a dispatch's params block. */
interface PreparedCommand {
  readonly command: Command
  readonly operands: ReadonlyArray<Operand | GPUBuffer>
  readonly params: ParamsBlock | undefined
}

const pushed = <T>(list: Array<T>, item: T): T => {
  list.push(item)
  return item
}

const devices = new WeakMap<GpuContext, KernelDevice<GPUBuffer, GpuLaunch, Array<RecordedCommand>>>()

/**
 * The GPU as a kernel device for core's executor: launchers turn a node into WGSL dispatches and copies
 * once per program, a recording holds them with their bind groups, a replay submits them in one command
 * buffer. Kernels take every size from their node, so a larger pooled buffer serves as it is.
 */
export const gpuDeviceOf = (gpu: GpuContext): KernelDevice<GPUBuffer, GpuLaunch, Array<RecordedCommand>> => {
  const known = devices.get(gpu)
  if (known) return known
  const { device } = gpu
  const bindGroups = bindGroupsOf(device)
  const paramsStore = paramsStoreOf(device, bindGroups.forget)
  const destroy = (buffer: GPUBuffer) => {
    bindGroups.forget(buffer)
    buffer.destroy()
  }

  const prepare =
    (launcher: Launcher<never>) =>
    (node: Parameters<Launcher<never>>[0]): GpuLaunch => {
      const owned: Array<GPUBuffer> = []
      const params: Array<ParamsBlock> = []
      const commands = launcher(node, gpu.launch).map(
        (command): PreparedCommand => ({
          command,
          operands: (command.kind === "compute" ? command.operands : [command.from, command.to]).map(
            (operand) =>
              operand.kind === "data"
                ? pushed(owned, createFilledBuffer(device, operand.bytes, `${node.op} data`))
                : operand,
          ),
          params:
            command.kind === "compute" ? pushed(params, paramsStore.acquire(command.params)) : undefined,
        }),
      )
      return { commands, owned, params }
    }
  const prepared = <T extends object>(table: T) =>
    Object.fromEntries(
      Object.entries(table).map(([op, launcher]) => [op, prepare(launcher as Launcher<never>)]),
    )

  const gpuDevice: KernelDevice<GPUBuffer, GpuLaunch, Array<RecordedCommand>> = {
    name: backendName,
    launchers: prepared(launchers) as unknown as LauncherTable<GpuLaunch>,
    fused: prepared(fusedLaunchers),
    poolKey: (spec) => String(bufferBytes(spec)),
    sizeClasses: { classOf: () => "bytes", sizeOf: bufferBytes, view: (buffer) => buffer },
    bytesOf: bufferBytes,
    allocate: (spec) => createTensorBuffer(device, bufferBytes(spec), "activations"),
    release: destroy,
    fromHost: (tensor) => createFilledBuffer(device, deviceBytesOf(tensor), "uploaded tensor"),
    write: (buffer, tensor) => device.queue.writeBuffer(buffer, 0, deviceBytesOf(tensor)),
    toHost: async (buffer, spec) => {
      const lost = lostError(gpu)
      if (lost) throw lost
      try {
        return hostTensorOf(await readBuffer(device, buffer, bufferBytes(spec)), spec.dtype, spec.shape)
      } catch (cause) {
        throw lostOr(gpu, "reading a buffer back")(cause)
      }
    },
    record: (launches, updates) => {
      paramsStore.seal()
      const recorded: Array<RecordedCommand> = []
      for (const { launch, inputs, output } of launches) {
        const bufferOf = (operand: Operand | GPUBuffer): GPUBuffer =>
          "kind" in operand ? (operand.kind === "input" ? inputs[operand.index]! : output) : operand
        for (const prepared of launch.commands) {
          const { command } = prepared
          const buffers = prepared.operands.map(bufferOf)
          if (command.kind === "copy") {
            recorded.push({ kind: "copy", from: buffers[0]!, to: buffers[1]!, bytes: command.bytes })
            continue
          }
          recorded.push({
            kind: "compute",
            pipeline: command.pipeline,
            bindGroup: bindGroups.of(command, buffers, prepared.params!),
            workgroups: command.workgroups,
          })
        }
      }
      for (const { from, to, spec } of updates)
        if (from !== to) recorded.push({ kind: "copy", from, to, bytes: bufferBytes(spec) })
      return recorded
    },
    replay: (recorded) => {
      const encoder = device.createCommandEncoder({ label: "danlu run" })
      encodeCommands(encoder, recorded)
      device.queue.submit([encoder.finish()])
    },
    dispose: (launch) => {
      for (const buffer of launch.owned) destroy(buffer)
      for (const block of launch.params) paramsStore.release(block)
    },
    unsupported: (node) => {
      // bf16 weights are held packed two to a u32; strided-map kernels (a cast to f32) read them.
      const held = node.dtype === "bf16" && (node.op === "state" || node.op === "input")
      if (!held && !gpu.capabilities.dtypes.includes(node.dtype))
        return `${node.dtype} is not supported on this device (it supports ${gpu.capabilities.dtypes.join(", ")}); cast first`
      const bytes = bufferBytes(node)
      if (bytes > gpu.maxBindingBytes)
        return `a [${node.shape.join(",")}] ${node.dtype} tensor takes ${bytes} bytes, more than this device's maxStorageBufferBindingSize of ${gpu.maxBindingBytes} bytes; use a smaller batch or tile the work`
      return undefined
    },
    guard: (what, bytes, work) =>
      Effect.andThen(
        ensureAlive(gpu),
        withErrorScopes(
          gpu,
          what,
          bytes,
          Effect.try({ try: work, catch: (cause) => asBackendError(cause, backendName, what) }),
        ),
      ),
  }
  devices.set(gpu, gpuDevice)
  return gpuDevice
}
