import type { ModuleInfo } from "../nn/weightScope.js"
import type { HostTensor } from "../tensor/hostTensor.js"

/** One LoRA module's tensors, wherever they came from (a trained network or a file). */
export interface LoraModuleWeights {
  /** kohya module name (`lora_unet_…`), the name it is exported under. */
  readonly name: string
  readonly module: ModuleInfo
  readonly rank: number
  readonly alpha: number
  /** `[r, in]` or `[r, in, kh, kw]` (`[r, in, 1, 1]` with a Tucker `mid`). */
  readonly down: HostTensor<"f32">
  /** `[out, r]` or `[out, r, 1, 1]`. */
  readonly up: HostTensor<"f32">
  /** LyCORIS LoCon Tucker core `[r, r, kh, kw]`, when present. */
  readonly mid?: HostTensor<"f32"> | undefined
}

export const loraDownName = (name: string): string => `${name}.lora_down.weight`
export const loraUpName = (name: string): string => `${name}.lora_up.weight`
export const loraAlphaName = (name: string): string => `${name}.alpha`
