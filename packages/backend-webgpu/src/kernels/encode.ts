import type { Command, ComputeCommand } from "./launch.js"

/**
 * Records commands into one encoder, keeping consecutive dispatches in one compute pass (WebGPU
 * orders the dispatches of a pass) and ending the pass only for copies.
 */
export const recordCommands = (
  encoder: GPUCommandEncoder,
  commands: ReadonlyArray<{ readonly command: Command; readonly buffers: ReadonlyArray<GPUBuffer> }>,
  bindGroupOf: (command: ComputeCommand, buffers: ReadonlyArray<GPUBuffer>, index: number) => GPUBindGroup,
): void => {
  let pass: GPUComputePassEncoder | undefined
  commands.forEach(({ command, buffers }, index) => {
    if (command.kind === "compute") {
      pass ??= encoder.beginComputePass()
      pass.setPipeline(command.pipeline)
      pass.setBindGroup(0, bindGroupOf(command, buffers, index))
      pass.dispatchWorkgroups(...command.workgroups)
      return
    }
    pass?.end()
    pass = undefined
    encoder.copyBufferToBuffer(buffers[0]!, 0, buffers[1]!, 0, command.bytes)
  })
  pass?.end()
}

/** A bind group with `buffers` at bindings 0…n-1 and the params buffer at n. */
export const createBindGroup = (
  device: GPUDevice,
  command: ComputeCommand,
  buffers: ReadonlyArray<GPUBuffer>,
  params: GPUBuffer,
): GPUBindGroup =>
  device.createBindGroup({
    layout: command.pipeline.getBindGroupLayout(0),
    entries: [...buffers, params].map((buffer, binding) => ({ binding, resource: { buffer } })),
  })
