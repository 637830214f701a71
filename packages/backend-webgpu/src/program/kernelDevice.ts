import type { Kernel, KernelDevice, KernelTable } from "@danlu/core"
import { backendName } from "../device/acquireDevice.js"
import type { GpuContext } from "../device/gpuContext.js"
import {
  bufferBytes,
  createFilledBuffer,
  createTensorBuffer,
  deviceBytesOf,
  hostTensorOf,
  readBuffer,
} from "../device/storage.js"
import { createBindGroup, recordCommands } from "../kernels/encode.js"
import type { Command, Launcher, Operand } from "../kernels/launch.js"
import { fusedLaunchers, launchers } from "../kernels/table.js"

const devices = new WeakMap<GpuContext, KernelDevice<GPUBuffer>>()

/**
 * The device as core's `KernelDevice`: one kernel per primitive (the type checks it), each recording its
 * launcher's commands into a pending encoder that `toHost` submits. `compileProgram` plans with it and
 * then replays prepared commands instead; this immediate form is what core's generic executor drives.
 */
export const kernelDeviceOf = (gpu: GpuContext): KernelDevice<GPUBuffer> => {
  const known = devices.get(gpu)
  if (known) return known
  const { device } = gpu
  let pending: { encoder: GPUCommandEncoder; transient: Array<GPUBuffer> } | undefined
  const encoder = () => {
    pending ??= { encoder: device.createCommandEncoder(), transient: [] }
    return pending
  }
  const flush = () => {
    if (!pending) return []
    device.queue.submit([pending.encoder.finish()])
    const transient = pending.transient
    pending = undefined
    return transient
  }

  const immediate =
    <Op extends keyof typeof launchers | keyof typeof fusedLaunchers>(
      launcher: Launcher<never>,
    ): Kernel<Op, GPUBuffer> =>
    (node, inputs, out) => {
      const target = encoder()
      const commands: ReadonlyArray<Command> = launcher(node as never, gpu.launch)
      const bufferOf = (operand: Operand): GPUBuffer => {
        if (operand.kind === "input") return inputs[operand.index]!
        if (operand.kind === "output") return out
        const data = createFilledBuffer(device, operand.bytes, "constant")
        target.transient.push(data)
        return data
      }
      recordCommands(
        target.encoder,
        commands.map((command) => ({
          command,
          buffers:
            command.kind === "compute"
              ? command.operands.map(bufferOf)
              : [bufferOf(command.from), bufferOf(command.to)],
        })),
        (command, buffers) => {
          const params = createFilledBuffer(device, new Uint8Array(command.params.buffer), "params")
          target.transient.push(params)
          return createBindGroup(device, command, buffers, params)
        },
      )
    }

  const kernels = Object.fromEntries(
    Object.entries(launchers).map(([op, launcher]) => [op, immediate(launcher as Launcher<never>)]),
  ) as unknown as KernelTable<GPUBuffer>
  const fused = Object.fromEntries(
    Object.entries(fusedLaunchers).map(([op, launcher]) => [op, immediate(launcher as Launcher<never>)]),
  )

  const kernelDevice: KernelDevice<GPUBuffer> = {
    name: backendName,
    kernels,
    fused,
    allocate: (spec) => createTensorBuffer(device, bufferBytes(spec), "tensor"),
    fromHost: (tensor) => createFilledBuffer(device, deviceBytesOf(tensor), "input"),
    toHost: async (buffer, spec) => {
      const transient = flush()
      try {
        return hostTensorOf(await readBuffer(device, buffer, bufferBytes(spec)), spec.dtype, spec.shape)
      } finally {
        for (const b of transient) b.destroy()
      }
    },
    copy: (from, to, spec) => {
      encoder().encoder.copyBufferToBuffer(from, 0, to, 0, bufferBytes(spec))
    },
    poolKey: (spec) => String(bufferBytes(spec)),
    // Kernels take every size from their node, so a larger buffer serves as it is.
    sizeClasses: { classOf: () => "bytes", sizeOf: bufferBytes, view: (buffer) => buffer },
  }
  devices.set(gpu, kernelDevice)
  return kernelDevice
}
