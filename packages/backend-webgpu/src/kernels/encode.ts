/** A command bound to buffers, ready to encode: a dispatch with its bind group, or a copy. */
export type RecordedCommand =
  | {
      readonly kind: "compute"
      readonly pipeline: GPUComputePipeline
      readonly bindGroup: GPUBindGroup
      readonly workgroups: readonly [number, number, number]
    }
  | { readonly kind: "copy"; readonly from: GPUBuffer; readonly to: GPUBuffer; readonly bytes: number }

/**
 * Encodes recorded commands, keeping consecutive dispatches in one compute pass (WebGPU orders the
 * dispatches of a pass) and ending the pass only for copies.
 */
export const encodeCommands = (
  encoder: GPUCommandEncoder,
  commands: ReadonlyArray<RecordedCommand>,
): void => {
  let pass: GPUComputePassEncoder | undefined
  for (const command of commands) {
    if (command.kind === "compute") {
      pass ??= encoder.beginComputePass()
      pass.setPipeline(command.pipeline)
      pass.setBindGroup(0, command.bindGroup)
      pass.dispatchWorkgroups(...command.workgroups)
      continue
    }
    pass?.end()
    pass = undefined
    encoder.copyBufferToBuffer(command.from, 0, command.to, 0, command.bytes)
  }
  pass?.end()
}
