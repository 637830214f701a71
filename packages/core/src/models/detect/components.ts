import type { TensorInfo } from "../../io/storedTensor.js"

/** The parts of a Stable Diffusion checkpoint. */
export type ComponentName = "unet" | "vae" | "text_encoder" | "text_encoder_2" | "ema" | "other"

/** The order reports list components in. */
export const componentOrder: ReadonlyArray<ComponentName> = [
  "unet",
  "vae",
  "text_encoder",
  "text_encoder_2",
  "ema",
  "other",
]

/** Key prefixes of the original (LDM/SGM) single-file layout. */
export const ldmPrefixes: ReadonlyArray<readonly [string, ComponentName]> = [
  ["model.diffusion_model.", "unet"],
  ["first_stage_model.", "vae"],
  ["cond_stage_model.", "text_encoder"],
  ["conditioner.embedders.0.", "text_encoder"],
  ["conditioner.embedders.1.", "text_encoder_2"],
  ["model_ema.", "ema"],
]

export const ldmComponentOf = (name: string): ComponentName =>
  ldmPrefixes.find(([prefix]) => name.startsWith(prefix))?.[1] ?? "other"

/** Groups tensors by component, in the order components first appear. */
export const groupByComponent = (
  tensors: ReadonlyArray<TensorInfo>,
  componentOf: (name: string) => ComponentName,
): Map<ComponentName, Array<TensorInfo>> => {
  const groups = new Map<ComponentName, Array<TensorInfo>>()
  for (const tensor of tensors) {
    const component = componentOf(tensor.name)
    const group = groups.get(component)
    if (group === undefined) groups.set(component, [tensor])
    else group.push(tensor)
  }
  return groups
}

/** The text encoder(s) an LDM checkpoint carries, by the key layout each one uses. */
export const ldmTextEncoders = (names: ReadonlySet<string> | ReadonlyArray<string>): Array<string> => {
  const list = [...names]
  const has = (prefix: string) => list.some((name) => name.startsWith(prefix))
  const encoders: Array<string> = []
  if (has("cond_stage_model.transformer.")) encoders.push("CLIP ViT-L/14")
  if (has("cond_stage_model.model.")) encoders.push("OpenCLIP ViT-H/14")
  if (has("conditioner.embedders.0.transformer.")) encoders.push("CLIP ViT-L/14")
  if (has("conditioner.embedders.0.model.")) encoders.push("OpenCLIP ViT-bigG/14")
  if (has("conditioner.embedders.1.model.")) encoders.push("OpenCLIP ViT-bigG/14")
  return encoders
}
