import { DatasetError } from "../errors.js"

/** A LoRA named in a prompt and the short hash A1111 lists it with under `Lora hashes`. */
export interface LoraHash {
  readonly name: string
  readonly hash: string
}

/**
 * What A1111 writes into a PNG's `parameters` text (its "infotext"), in the fields danlu sets. Keys
 * A1111 omits when unset are optional here too.
 */
export interface GenerationParameters {
  readonly prompt: string
  readonly negativePrompt?: string
  readonly steps: number
  /** A1111's sampler name, e.g. "DPM++ 2M", "Euler a". */
  readonly sampler: string
  /** A1111's `Schedule type`, e.g. "Karras"; omitted when the sampler's default schedule is used. */
  readonly scheduleType?: string
  readonly cfgScale: number
  readonly seed: number
  readonly width: number
  readonly height: number
  readonly modelHash?: string
  readonly model?: string
  /** Written only when above 1, as A1111 does. */
  readonly clipSkip?: number
  readonly loraHashes?: ReadonlyArray<LoraHash>
  /** Further `key: value` pairs (e.g. the X/Y/Z plot's `X Type`), written before `Version` in this order. */
  readonly extra?: ReadonlyArray<readonly [string, string]>
  /** e.g. "danlu 0.1.0". */
  readonly version?: string
}

/** The three parts A1111's parser splits an infotext into; field values are unquoted. */
export interface Infotext {
  readonly prompt: string
  readonly negativePrompt: string
  /** The `key: value` pairs of the last line, in order. */
  readonly fields: ReadonlyArray<readonly [string, string]>
}

/** A1111's `quote`: a value with a comma, colon or newline becomes a JSON string (non-ASCII kept). */
export const quoteInfotextValue = (value: string): string =>
  /[,:\n]/.test(value) ? JSON.stringify(value) : value

/** A1111's `unquote`: a value in double quotes is read as a JSON string when it parses as one. */
export const unquoteInfotextValue = (value: string): string => {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value
  try {
    const parsed: unknown = JSON.parse(value)
    return typeof parsed === "string" ? parsed : value
  } catch {
    return value
  }
}

// A1111 removes these from a LoRA's name in `Lora hashes` so the joined list stays parseable.
const loraHashName = (name: string) => name.replaceAll(/[:,]/g, "")

const formatLoraHashes = (hashes: ReadonlyArray<LoraHash>) =>
  hashes.map((lora) => `${loraHashName(lora.name)}: ${lora.hash}`).join(", ")

/** The `parameters` text A1111's `create_infotext` writes, for the fields danlu sets. */
export const formatInfotext = (p: GenerationParameters): string => {
  const pairs: Array<readonly [string, string | number | undefined]> = [
    ["Steps", p.steps],
    ["Sampler", p.sampler],
    ["Schedule type", p.scheduleType],
    ["CFG scale", p.cfgScale],
    ["Seed", p.seed],
    ["Size", `${p.width}x${p.height}`],
    ["Model hash", p.modelHash],
    ["Model", p.model],
    ["Clip skip", p.clipSkip !== undefined && p.clipSkip > 1 ? p.clipSkip : undefined],
    [
      "Lora hashes",
      p.loraHashes !== undefined && p.loraHashes.length > 0 ? formatLoraHashes(p.loraHashes) : undefined,
    ],
    ...(p.extra ?? []),
    ["Version", p.version],
  ]
  const line = pairs
    .filter((pair): pair is readonly [string, string | number] => pair[1] !== undefined)
    .map(([key, value]) => (key === String(value) ? key : `${key}: ${quoteInfotextValue(String(value))}`))
    .join(", ")
  const negative = p.negativePrompt ? `\nNegative prompt: ${p.negativePrompt}` : ""
  return `${p.prompt}${negative}\n${line}`.trim()
}

// A1111's `re_param`, with Python's Unicode `\w` spelled out for JavaScript.
const paramPattern = /\s*([\p{L}\p{N}_][\p{L}\p{N}_ \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/gu
const negativeLabel = "Negative prompt:"

/**
 * Splits an infotext with A1111's `parse_generation_parameters` rules: the last line holds the
 * `key: value` pairs when it has at least three; lines before `Negative prompt:` are the prompt,
 * the rest the negative prompt; quoted values are JSON strings.
 */
export const parseInfotext = (text: string): Infotext => {
  const lines = text.trim().split("\n")
  let last = lines.pop() ?? ""
  if ([...last.matchAll(paramPattern)].length < 3) {
    lines.push(last)
    last = ""
  }
  const prompt: string[] = []
  const negative: string[] = []
  for (const raw of lines) {
    let line = raw.trim()
    if (line.startsWith(negativeLabel)) {
      line = line.slice(negativeLabel.length).trim()
      negative.push(line)
    } else if (negative.length > 0) negative.push(line)
    else prompt.push(line)
  }
  const fields = [...last.matchAll(paramPattern)].map(
    (match) => [match[1]!, unquoteInfotextValue(match[2]!)] as const,
  )
  return { prompt: prompt.join("\n"), negativePrompt: negative.join("\n"), fields }
}

const known = new Set([
  "Steps",
  "Sampler",
  "Schedule type",
  "CFG scale",
  "Seed",
  "Size",
  "Model hash",
  "Model",
  "Clip skip",
  "Lora hashes",
  "Version",
])

const parseLoraHashes = (value: string): ReadonlyArray<LoraHash> =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
    .map((item) => {
      const colon = item.lastIndexOf(":")
      return colon < 0
        ? { name: item, hash: "" }
        : { name: item.slice(0, colon).trim(), hash: item.slice(colon + 1).trim() }
    })

/**
 * Reads the typed fields back from an infotext. Fails when one of the fields A1111 always writes
 * (Steps, Sampler, CFG scale, Seed, Size) is missing or not a number where one is expected.
 */
export const readGenerationParameters = (text: string): GenerationParameters => {
  const info = parseInfotext(text)
  const fields = new Map(info.fields)
  const field = (key: string) => {
    const value = fields.get(key)
    if (value === undefined) throw new DatasetError({ message: `infotext has no "${key}" field` })
    return value
  }
  const number = (key: string, value = field(key)) => {
    const n = Number(value)
    if (value.trim() === "" || !Number.isFinite(n))
      throw new DatasetError({ message: `infotext field "${key}" is not a number: "${value}"` })
    return n
  }
  const steps = number("Steps")
  const sampler = field("Sampler")
  const cfgScale = number("CFG scale")
  const seed = number("Seed")
  const size = /^(\d+)x(\d+)$/.exec(field("Size"))
  if (size === null)
    throw new DatasetError({ message: `infotext field "Size" is not WxH: "${field("Size")}"` })
  const optional = (key: string) => fields.get(key)
  const clipSkip = optional("Clip skip")
  const loraHashes = optional("Lora hashes")
  const extra = info.fields.filter(([key]) => !known.has(key))
  const pick = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
  return {
    prompt: info.prompt,
    ...(info.negativePrompt === "" ? {} : { negativePrompt: info.negativePrompt }),
    steps,
    sampler,
    ...pick("scheduleType", optional("Schedule type")),
    cfgScale,
    seed,
    width: Number(size[1]),
    height: Number(size[2]),
    ...pick("modelHash", optional("Model hash")),
    ...pick("model", optional("Model")),
    ...pick("clipSkip", clipSkip === undefined ? undefined : number("Clip skip", clipSkip)),
    ...pick("loraHashes", loraHashes === undefined ? undefined : parseLoraHashes(loraHashes)),
    ...(extra.length > 0 ? { extra } : {}),
    ...pick("version", optional("Version")),
  }
}
