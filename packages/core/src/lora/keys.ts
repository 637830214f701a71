import type { ModuleInfo } from "../nn/weightScope.js"

/**
 * How LoRA files name UNet modules: kohya's SD1/SD2 files use diffusers paths (`down_blocks_0_attentions_0_…`),
 * its SDXL files the original SGM paths (`input_blocks_4_1_…`). Text encoders always use transformers paths.
 */
export type UNetLoraNaming = "diffusers" | "ldm"

const kohyaPrefix: Readonly<Record<string, string>> = {
  unet: "lora_unet",
  te: "lora_te",
  te1: "lora_te1",
  te2: "lora_te2",
}

const peftPrefix: Readonly<Record<string, string>> = {
  unet: "unet",
  te: "text_encoder",
  te1: "text_encoder",
  te2: "text_encoder_2",
}

const underscored = (path: string): string => path.replaceAll(".", "_")

/** sd-scripts' naming for a module's family: SGM (ldm) paths for an SDXL UNet, diffusers paths otherwise. */
export const unetNamingOf = (module: ModuleInfo): UNetLoraNaming =>
  module.family === "sdxl" || module.family === "sdxl-refiner" ? "ldm" : "diffusers"

/**
 * The kohya module name, e.g. `lora_unet_down_blocks_0_attentions_0_proj_in`, `lora_te_text_model_…_q_proj`;
 * the UNet naming follows the module's family unless given.
 */
export const kohyaName = (module: ModuleInfo, unetNaming: UNetLoraNaming = unetNamingOf(module)): string => {
  const prefix = kohyaPrefix[module.component]
  if (prefix === undefined) throw new RangeError(`no kohya prefix for model component "${module.component}"`)
  const path = module.component === "unet" && unetNaming === "ldm" ? module.path : module.diffusersPath
  return `${prefix}_${underscored(path)}`
}

/**
 * Every module name a LoRA file may use for this module: kohya in either UNet naming (and `lora_te1_` for an
 * SD1/SD2 text encoder, as diffusers' `convert_state_dict_to_kohya` writes it), and diffusers/PEFT dotted
 * paths with or without the `unet.` / `text_encoder.` prefix.
 */
export const moduleAliases = (module: ModuleInfo): Array<string> => {
  const kohya = kohyaPrefix[module.component]
  const peft = peftPrefix[module.component]
  if (kohya === undefined || peft === undefined) return []
  const names = [
    `${kohya}_${underscored(module.diffusersPath)}`,
    `${kohya}_${underscored(module.path)}`,
    `${peft}.${module.diffusersPath}`,
  ]
  if (module.component === "te") names.push(`lora_te1_${underscored(module.diffusersPath)}`)
  if (module.component === "unet") names.push(module.diffusersPath)
  return names
}

/** Undoes the spellings of old diffusers attention-processor LoRAs (`attn1.processor.to_out_lora`). */
export const normalizeModuleName = (name: string): string => {
  const plain = name.replace(".processor.", ".")
  return plain.endsWith(".to_out") ? `${plain}.0` : plain
}

/** A lookup from every alias to its module. */
export const aliasTable = (modules: ReadonlyArray<ModuleInfo>): Map<string, ModuleInfo> => {
  const table = new Map<string, ModuleInfo>()
  for (const module of modules) for (const alias of moduleAliases(module)) table.set(alias, module)
  return table
}
