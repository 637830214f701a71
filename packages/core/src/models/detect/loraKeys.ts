import type { ComponentName } from "./components.js"

/** What a tensor is inside a LoRA module. */
export type LoraRole = "down" | "up" | "alpha" | "mid" | "loha" | "lokr" | "dora"

/** How a LoRA file names its modules. */
export type LoraKeyStyle = "kohya" | "diffusers-peft" | "diffusers-legacy"

const roles: ReadonlyArray<readonly [RegExp, LoraRole, LoraKeyStyle | undefined]> = [
  [/^(.+)\.lora_down\.weight$/, "down", undefined],
  [/^(.+)\.lora_up\.weight$/, "up", undefined],
  [/^(.+)\.lora_A\.weight$/, "down", "diffusers-peft"],
  [/^(.+)\.lora_B\.weight$/, "up", "diffusers-peft"],
  [/^(.+)\.lora\.down\.weight$/, "down", "diffusers-legacy"],
  [/^(.+)\.lora\.up\.weight$/, "up", "diffusers-legacy"],
  [/^(.+)\.lora_linear_layer\.down\.weight$/, "down", "diffusers-legacy"],
  [/^(.+)\.lora_linear_layer\.up\.weight$/, "up", "diffusers-legacy"],
  [/^(.+)_lora\.down\.weight$/, "down", "diffusers-legacy"],
  [/^(.+)_lora\.up\.weight$/, "up", "diffusers-legacy"],
  [/^(.+)\.lora_mid\.weight$/, "mid", undefined],
  [/^(.+)\.alpha$/, "alpha", undefined],
  [/^(.+)\.(?:hada_w[12]_[ab]|hada_t[12])$/, "loha", undefined],
  [/^(.+)\.(?:lokr_w[12](?:_[ab])?|lokr_t2)$/, "lokr", undefined],
  [/^(.+)\.dora_scale$/, "dora", undefined],
]

export interface LoraKey {
  readonly module: string
  readonly role: LoraRole
  readonly style: LoraKeyStyle
}

const kohyaPrefix = /^lora_(?:unet|te[12]?)_/

/** Parses a tensor name as part of a LoRA module, or undefined when it is not one. */
export const parseLoraKey = (name: string): LoraKey | undefined => {
  for (const [pattern, role, style] of roles) {
    const match = pattern.exec(name)
    if (match === null) continue
    const module = match[1]!
    return { module, role, style: style ?? (kohyaPrefix.test(module) ? "kohya" : "diffusers-peft") }
  }
  return undefined
}

/** Which model part a LoRA module patches. */
export const loraComponentOf = (module: string): ComponentName => {
  if (module.startsWith("lora_unet_") || module.startsWith("unet.")) return "unet"
  if (module.startsWith("lora_te2_") || module.startsWith("text_encoder_2.")) return "text_encoder_2"
  if (module.startsWith("lora_te_") || module.startsWith("lora_te1_") || module.startsWith("text_encoder.")) {
    return "text_encoder"
  }
  if (/(?:^|\.)(?:down_blocks|mid_block|up_blocks)\./.test(module)) return "unet"
  return "other"
}
