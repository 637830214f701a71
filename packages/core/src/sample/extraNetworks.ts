import { Data } from "effect"

/**
 * A1111's extra-network tags in prompts (`modules/extra_networks.py` parse_prompt, and the built-in Lora
 * extension's `extra_networks_lora.py`): every `<type:arg:arg…>` is cut out of the prompt (leaving the
 * text around it as it was) and its colon-separated arguments are split into positional ones and `key=value`
 * ones. `<lora:name:w>` applies the LoRA `name` at multiplier w to both text encoder and UNet;
 * `<lora:name>` means w = 1; `<lora:name:te:unet>` or `te=`/`unet=` set them apart. `<lyco:…>` is an
 * alias A1111 keeps for LyCORIS files and reads the same way.
 */

/** One `<lora:…>` tag. */
export interface LoraReference {
  readonly name: string
  /** Multiplier on the text encoder's LoRA modules (the tag's first number). */
  readonly teMultiplier: number
  /** Multiplier on the UNet's LoRA modules (the second number, else the first). */
  readonly unetMultiplier: number
}

/** A tag of another extra-network type (hypernet, …): removed from the prompt like A1111 does. */
export interface ExtraNetworkTag {
  readonly type: string
  readonly items: ReadonlyArray<string>
}

export interface PromptNetworks {
  /** The prompt with every tag cut out. */
  readonly prompt: string
  /** The LoRA tags in prompt order (a name may repeat; A1111 applies each). */
  readonly loras: ReadonlyArray<LoraReference>
  readonly others: ReadonlyArray<ExtraNetworkTag>
}

/** A `<lora:…>` tag A1111 would fail on too: no name, or a multiplier that is not a number. */
export class LoraTagError extends Data.TaggedError("LoraTagError")<{
  readonly message: string
  readonly tag: string
}> {}

// Python's `<(\w+):([^>]+)>` with Unicode word characters.
const EXTRA_NETWORK = /<([\p{L}\p{N}_]+):([^>]+)>/gu
const LORA_TYPES = new Set(["lora", "lyco"])
// What Python's float() reads: decimals with an optional exponent, inf, nan; surrounding spaces allowed.
const PY_FLOAT = /^\s*[+-]?((\d[\d_]*(\.[\d_]*)?|\.\d[\d_]*)(e[+-]?\d+)?|inf(inity)?|nan)\s*$/i

const pyFloat = (text: string, tag: string): number => {
  if (!PY_FLOAT.test(text)) {
    throw new LoraTagError({
      message: `"${text}" in ${tag} is not a number; write e.g. <lora:name:0.8>`,
      tag,
    })
  }
  const t = text.trim().toLowerCase().replaceAll("_", "")
  const sign = t.startsWith("-") ? -1 : 1
  const unsigned = t.replace(/^[+-]/, "")
  if (unsigned.startsWith("inf")) return sign * Number.POSITIVE_INFINITY
  if (unsigned === "nan") return Number.NaN
  return Number(t)
}

const loraReference = (items: ReadonlyArray<string>, tag: string): LoraReference => {
  const positional: string[] = []
  const named = new Map<string, string>()
  for (const item of items) {
    // Python's `item.split('=', 2)`: exactly one '=' makes a named argument.
    const parts = item.split("=")
    if (parts.length === 2) named.set(parts[0]!, parts[1]!)
    else positional.push(item)
  }
  const name = positional[0]
  if (name === undefined || name === "") {
    throw new LoraTagError({ message: `${tag} names no LoRA; write <lora:name:weight>`, tag })
  }
  let te = positional[1] === undefined ? 1 : pyFloat(positional[1], tag)
  const teNamed = named.get("te")
  if (teNamed !== undefined) te = pyFloat(teNamed, tag)
  let unet = positional[2] === undefined ? te : pyFloat(positional[2], tag)
  const unetNamed = named.get("unet")
  if (unetNamed !== undefined) unet = pyFloat(unetNamed, tag)
  return { name, teMultiplier: te, unetMultiplier: unet }
}

/** Cuts every extra-network tag out of `prompt` and reads the `<lora:…>`/`<lyco:…>` ones. */
export const extractLoras = (prompt: string): PromptNetworks => {
  const loras: LoraReference[] = []
  const others: ExtraNetworkTag[] = []
  const cleaned = prompt.replace(EXTRA_NETWORK, (tag: string, type: string, args: string) => {
    const items = args.split(":")
    if (LORA_TYPES.has(type)) loras.push(loraReference(items, tag))
    else others.push({ type, items })
    return ""
  })
  return { prompt: cleaned, loras, others }
}
