import { Effect } from "effect"
import type { DeviceBuffer, Program } from "../backend/Backend.js"
import type { BackendError } from "../errors.js"
import { type HostTensor, hostTensor } from "../tensor/hostTensor.js"
import { denoiserNames } from "./denoiserGraph.js"
import type { Denoiser } from "./samplerPlan.js"

/** The CFG scale as the scalar input of a denoiser program. */
export const cfgScaleInput = (scale: number): HostTensor<"f32"> =>
  hostTensor("f32", [], Float32Array.of(scale))

/**
 * A compiled `denoiserGraph` as the samplers' D(x, sigma): each call runs the program with the latents and
 * sigma (the same for every picture) and the fixed inputs given here — `cond`, `uncond`, `cfg_scale` and
 * whatever else the graph reads (LoRA multipliers, SDXL vectors), as host tensors or device buffers.
 */
export const programDenoiser = (
  program: Program,
  inputs: Readonly<Record<string, HostTensor | DeviceBuffer>>,
  states?: Readonly<Record<string, DeviceBuffer>>,
): Denoiser<BackendError> => {
  const xSpec = program.inputs.find((spec) => spec.name === denoiserNames.x)
  if (!xSpec)
    throw new RangeError(`the program has no "${denoiserNames.x}" input; build it with denoiserGraph`)
  const batch = xSpec.shape[0]!
  return (x, sigma) =>
    program
      .run(
        {
          ...inputs,
          [denoiserNames.x]: hostTensor("f32", xSpec.shape, x),
          [denoiserNames.sigma]: hostTensor("f32", [batch], new Float32Array(batch).fill(sigma)),
        },
        states,
      )
      .pipe(Effect.map((outputs) => outputs[denoiserNames.denoised]!.data as Float32Array))
}
