import { Data, Effect } from "effect"
import { optimizerTypes } from "../optim/makeOptimizer.js"

/** A training resolution. kohya's `--resolution 512,768` is width 512, height 768. */
export interface Resolution {
  readonly width: number
  readonly height: number
}

/** The `network_args` of kohya's `networks.lora` that danlu reads (`conv_dim=8` and so on). */
export interface NetworkArgs {
  /** Rank of the 3×3 conv LoRA (LoCon); absent = no conv LoRA (`conv_dim`). */
  readonly convDim?: number
  /** Alpha of the conv LoRA; kohya uses 1 when `conv_dim` is set without it, and conv_dim for 0 (`conv_alpha`). */
  readonly convAlpha?: number
  /** Probability of zeroing each rank of a LoRA's down projection per step (`rank_dropout`). */
  readonly rankDropout?: number
  /** Probability of skipping a whole LoRA module per step (`module_dropout`). */
  readonly moduleDropout?: number
}

/** One `optimizer_args` value as kohya reads it with Python's `ast.literal_eval`. */
export type OptimizerArgValue = number | boolean | string | null | ReadonlyArray<number>

/** The compute backend a run uses (danlu's own option). */
export type TrainBackend = "reference" | "onnx" | "webgpu"

/**
 * Everything `danlu train` reads. Field names are kohya sd-scripts' option names in camelCase
 * (`network_dim` → `networkDim`); defaults are kohya's. Fields kohya leaves unset (Python `None`)
 * are optional here and absent by default.
 */
export interface TrainConfig {
  // the base model
  readonly pretrainedModelNameOrPath?: string
  readonly vae?: string
  readonly v2: boolean
  readonly vParameterization: boolean
  readonly backend: TrainBackend
  // the data
  readonly trainDataDir?: string
  readonly regDataDir?: string
  readonly datasetConfig?: string
  readonly resolution: Resolution
  readonly enableBucket: boolean
  readonly minBucketReso: number
  readonly maxBucketReso: number
  readonly bucketResoSteps: number
  readonly bucketNoUpscale: boolean
  readonly flipAug: boolean
  readonly randomCrop: boolean
  readonly colorAug: boolean
  readonly captionExtension: string
  readonly shuffleCaption: boolean
  readonly keepTokens: number
  readonly keepTokensSeparator: string
  readonly secondarySeparator?: string
  readonly captionSeparator: string
  readonly captionDropoutRate: number
  readonly captionTagDropoutRate: number
  readonly captionDropoutEveryNEpochs: number
  readonly captionPrefix?: string
  readonly captionSuffix?: string
  readonly cacheLatents: boolean
  readonly cacheLatentsToDisk: boolean
  readonly cacheTextEncoderOutputs: boolean
  readonly priorLossWeight: number
  readonly maskedLoss: boolean
  readonly alphaMask: boolean
  readonly validationSplit: number
  readonly validationSeed?: number
  readonly validateEveryNEpochs?: number
  // the network
  readonly networkModule: "networks.lora"
  readonly networkDim: number
  readonly networkAlpha: number
  readonly networkArgs: NetworkArgs
  readonly networkDropout?: number
  readonly networkWeights?: string
  readonly networkTrainUnetOnly: boolean
  readonly networkTrainTextEncoderOnly: boolean
  // full fine-tuning (sd-scripts' train_db.py)
  /** Learning rate of the text encoder(s) in full fine-tuning (default: learning_rate). */
  readonly learningRateTe?: number
  /** Full fine-tuning trains the text encoder until this step; -1 never trains it (default: to the end). */
  readonly stopTextEncoderTraining?: number
  // the optimizer and schedule
  readonly learningRate: number
  readonly unetLr?: number
  readonly textEncoderLr?: number
  readonly optimizerType: OptimizerType
  readonly optimizerArgs: Readonly<Record<string, OptimizerArgValue>>
  readonly lrScheduler: LrScheduler
  /** A step count, or below 1 a fraction of the total steps (kohya's rule). */
  readonly lrWarmupSteps: number
  readonly lrSchedulerNumCycles: number
  readonly lrSchedulerPower: number
  readonly maxGradNorm: number
  readonly gradientAccumulationSteps: number
  // length, batch, precision
  readonly trainBatchSize: number
  readonly maxTrainEpochs?: number
  readonly maxTrainSteps: number
  readonly seed?: number
  readonly gradientCheckpointing: boolean
  readonly mixedPrecision: "no" | "fp16" | "bf16"
  readonly fullFp16: boolean
  readonly fullBf16: boolean
  // text
  readonly clipSkip?: number
  readonly maxTokenLength?: number
  // noise, timesteps, loss
  readonly noiseOffset?: number
  readonly noiseOffsetRandomStrength: boolean
  readonly adaptiveNoiseScale?: number
  readonly multiresNoiseIterations?: number
  readonly multiresNoiseDiscount: number
  readonly ipNoiseGamma?: number
  readonly minSnrGamma?: number
  readonly scaleVPredLossLikeNoisePred: boolean
  readonly debiasedEstimationLoss: boolean
  readonly zeroTerminalSnr: boolean
  readonly lossType: "l2" | "l1" | "huber" | "smooth_l1"
  readonly huberC: number
  readonly huberSchedule: "constant" | "exponential" | "snr"
  readonly minTimestep: number
  readonly maxTimestep: number
  // outputs and state
  readonly outputDir?: string
  readonly outputName?: string
  readonly saveModelAs: "safetensors"
  readonly savePrecision?: "float" | "fp16" | "bf16"
  readonly saveEveryNEpochs?: number
  readonly saveEveryNSteps?: number
  readonly saveLastNEpochs?: number
  readonly saveLastNSteps?: number
  readonly saveState: boolean
  readonly saveStateOnTrainEnd: boolean
  readonly resume?: string
  // logs and metadata
  readonly loggingDir?: string
  readonly logPrefix?: string
  readonly trainingComment?: string
  readonly noMetadata: boolean
  readonly metadataTitle?: string
  readonly metadataAuthor?: string
  readonly metadataDescription?: string
  readonly metadataLicense?: string
  readonly metadataTags?: string
  // samples during training
  readonly sampleEveryNEpochs?: number
  readonly sampleEveryNSteps?: number
  readonly samplePrompts?: string
  readonly sampleSampler: SampleSampler
  readonly sampleAtFirst: boolean
}

/** kohya's defaults (sd-scripts `train_util.py` / `train_network.py` argparse), plus danlu's backend. */
export const defaultTrainConfig: TrainConfig = {
  v2: false,
  vParameterization: false,
  backend: "onnx",
  resolution: { width: 512, height: 512 },
  enableBucket: false,
  minBucketReso: 256,
  maxBucketReso: 1024,
  bucketResoSteps: 64,
  bucketNoUpscale: false,
  flipAug: false,
  randomCrop: false,
  colorAug: false,
  captionExtension: ".caption",
  shuffleCaption: false,
  keepTokens: 0,
  keepTokensSeparator: "",
  captionSeparator: ",",
  captionDropoutRate: 0,
  captionTagDropoutRate: 0,
  captionDropoutEveryNEpochs: 0,
  cacheLatents: false,
  cacheLatentsToDisk: false,
  cacheTextEncoderOutputs: false,
  priorLossWeight: 1,
  maskedLoss: false,
  alphaMask: false,
  validationSplit: 0,
  networkModule: "networks.lora",
  networkDim: 4,
  networkAlpha: 1,
  networkArgs: {},
  networkTrainUnetOnly: false,
  networkTrainTextEncoderOnly: false,
  learningRate: 2e-6,
  optimizerType: "AdamW",
  optimizerArgs: {},
  lrScheduler: "constant",
  lrWarmupSteps: 0,
  lrSchedulerNumCycles: 1,
  lrSchedulerPower: 1,
  maxGradNorm: 1,
  gradientAccumulationSteps: 1,
  trainBatchSize: 1,
  maxTrainSteps: 1600,
  gradientCheckpointing: false,
  mixedPrecision: "no",
  fullFp16: false,
  fullBf16: false,
  noiseOffsetRandomStrength: false,
  multiresNoiseDiscount: 0.3,
  scaleVPredLossLikeNoisePred: false,
  debiasedEstimationLoss: false,
  zeroTerminalSnr: false,
  lossType: "l2",
  huberC: 0.1,
  huberSchedule: "snr",
  minTimestep: 0,
  maxTimestep: 1000,
  saveModelAs: "safetensors",
  saveState: false,
  saveStateOnTrainEnd: false,
  noMetadata: false,
  sampleSampler: "ddim",
  sampleAtFirst: false,
}

/** What values an option takes; drives decoding from TOML and flags, validation and the help text. */
export type OptionKind =
  | { readonly type: "boolean" }
  | {
      readonly type: "integer"
      readonly min?: number
      readonly max?: number
      readonly oneOf?: ReadonlyArray<number>
    }
  | { readonly type: "number"; readonly min?: number; readonly max?: number; readonly above?: number }
  | { readonly type: "string" }
  | { readonly type: "path" }
  | {
      readonly type: "choice"
      readonly choices: ReadonlyArray<string>
      /** Compared without case, written back in the canonical spelling (kohya lowercases optimizer names). */
      readonly ignoreCase?: boolean
      readonly aliases?: Readonly<Record<string, string>>
    }
  | { readonly type: "resolution" }
  | { readonly type: "warmup" }
  | { readonly type: "optimizerArgs" }
  | { readonly type: "networkArgs" }

export interface OptionSpec {
  readonly kind: OptionKind
  /** One line for `--help`. */
  readonly doc: string
}

const boolean = (doc: string): OptionSpec => ({ kind: { type: "boolean" }, doc })
const integer = (doc: string, min = 0, max?: number): OptionSpec => ({
  kind: max === undefined ? { type: "integer", min } : { type: "integer", min, max },
  doc,
})
const number = (doc: string, range: { min?: number; max?: number; above?: number } = {}): OptionSpec => ({
  kind: { type: "number", ...range },
  doc,
})
const text = (doc: string): OptionSpec => ({ kind: { type: "string" }, doc })
const path = (doc: string): OptionSpec => ({ kind: { type: "path" }, doc })
const choice = (
  doc: string,
  choices: ReadonlyArray<string>,
  extra: { ignoreCase?: boolean; aliases?: Readonly<Record<string, string>> } = {},
): OptionSpec => ({ kind: { type: "choice", choices, ...extra }, doc })
const rate = (doc: string): OptionSpec => number(doc, { min: 0, max: 1 })

/** kohya's sampler names for `sample_sampler` (sd-scripts `train_util.py`). */
export const sampleSamplers = [
  "ddim",
  "pndm",
  "lms",
  "euler",
  "euler_a",
  "heun",
  "dpm_2",
  "dpm_2_a",
  "dpmsolver",
  "dpmsolver++",
  "dpmsingle",
  "k_lms",
  "k_euler",
  "k_euler_a",
  "k_dpm_2",
  "k_dpm_2_a",
] as const
export type SampleSampler = (typeof sampleSamplers)[number]

export type OptimizerType = (typeof optimizerTypes)[number]

/** The LR schedules danlu implements, named as kohya's `lr_scheduler`. */
export const lrSchedulers = [
  "constant",
  "constant_with_warmup",
  "linear",
  "cosine",
  "cosine_with_restarts",
  "polynomial",
  "adafactor",
] as const
export type LrScheduler = (typeof lrSchedulers)[number]

/** Every option: its kind and help line. The key set is exactly `TrainConfig`'s. */
export const trainOptionSpecs: { readonly [K in keyof TrainConfig]-?: OptionSpec } = {
  pretrainedModelNameOrPath: path(
    "the base model: a .safetensors or .ckpt checkpoint, or a diffusers folder",
  ),
  vae: path("a VAE to use instead of the base model's"),
  v2: boolean("the base model is SD 2.x"),
  vParameterization: boolean("the base model predicts v (SD 2.x 768-v)"),
  backend: choice("where danlu computes: reference, onnx or webgpu", ["reference", "onnx", "webgpu"], {
    aliases: { onnxruntime: "onnx" },
  }),
  trainDataDir: path("the parent of the <repeats>_<name> image folders"),
  regDataDir: path("the parent of the <repeats>_<class> regularisation folders"),
  datasetConfig: path("a kohya dataset_config TOML ([general], [[datasets]], [[datasets.subsets]])"),
  resolution: { kind: { type: "resolution" }, doc: "training size: 512, or width,height such as 512,768" },
  enableBucket: boolean("aspect-ratio buckets instead of one fixed size"),
  minBucketReso: integer("smallest bucket side", 64),
  maxBucketReso: integer("largest bucket side", 64),
  bucketResoSteps: integer("bucket sides are multiples of this (64 for SD 1.x/2.x)", 8),
  bucketNoUpscale: boolean("buckets follow each image's size and never enlarge it"),
  flipAug: boolean("flip each sample horizontally with probability 1/2"),
  randomCrop: boolean("crop at a random place instead of the centre"),
  colorAug: boolean("small random hue or gamma shifts"),
  captionExtension: text("caption files next to the images (kohya's default: .caption)"),
  shuffleCaption: boolean("shuffle the comma-separated tags each step"),
  keepTokens: integer("keep the first N tags in place when shuffling"),
  keepTokensSeparator: text("text before this separator stays first, e.g. |||"),
  secondarySeparator: text("tags joined by this move as one when shuffling, e.g. ;;;"),
  captionSeparator: text("the tag separator"),
  captionDropoutRate: rate("probability of training a sample with an empty caption"),
  captionTagDropoutRate: rate("probability of dropping each tag"),
  captionDropoutEveryNEpochs: integer("empty every caption in every Nth epoch (0 = never)"),
  captionPrefix: text("put before every caption, e.g. the trigger word"),
  captionSuffix: text("put after every caption"),
  cacheLatents: boolean("encode every image once with the VAE before training"),
  cacheLatentsToDisk: boolean("keep the cached latents in files beside the images"),
  cacheTextEncoderOutputs: boolean("encode captions once (needs a frozen text encoder and fixed captions)"),
  priorLossWeight: number("loss weight of regularisation samples", { min: 0 }),
  maskedLoss: boolean("weight the loss with a mask (the image's alpha channel with alpha_mask)"),
  alphaMask: boolean("use each image's alpha channel as its loss mask"),
  validationSplit: number("fraction of images held out for the validation loss", { min: 0, max: 1 }),
  validationSeed: integer("seed of the validation split, noise and timesteps"),
  validateEveryNEpochs: integer("compute the validation loss every N epochs", 1),
  networkModule: choice("the network kind; danlu trains networks.lora (LoRA, LoCon with conv_dim)", [
    "networks.lora",
  ]),
  networkDim: integer("LoRA rank (the guide: 32 for anime styles, 64–128 realistic)", 1),
  networkAlpha: number(
    "LoRA alpha; the LoRA is scaled by alpha/rank (the guide: rank/2); 0 means alpha = rank, as in kohya",
    { min: 0 },
  ),
  networkArgs: {
    kind: { type: "networkArgs" },
    doc: "key=value network options: conv_dim, conv_alpha, rank_dropout, module_dropout",
  },
  networkDropout: rate("dropout on each LoRA's hidden features"),
  networkWeights: path("continue from this LoRA file"),
  networkTrainUnetOnly: boolean("train only the UNet's LoRA"),
  networkTrainTextEncoderOnly: boolean("train only the text encoder's LoRA"),
  learningRateTe: number("finetune: learning rate of the text encoder (default: learning_rate)", { min: 0 }),
  stopTextEncoderTraining: integer(
    "finetune: stop training the text encoder at this step; -1 never trains it (default: to the end)",
    -1,
  ),
  learningRate: number("learning rate (kohya's default 2e-6 is for full fine-tuning; LoRAs use ~1e-4)", {
    min: 0,
  }),
  unetLr: number("learning rate of the UNet's LoRA (default: learning_rate)", { min: 0 }),
  textEncoderLr: number("learning rate of the text encoder's LoRA (0 = frozen)", { min: 0 }),
  optimizerType: choice("the optimizer", optimizerTypes, { ignoreCase: true }),
  optimizerArgs: {
    kind: { type: "optimizerArgs" },
    doc: "key=value optimizer options, e.g. weight_decay=0.1 betas=0.9,0.99",
  },
  lrScheduler: choice("the learning-rate schedule", lrSchedulers),
  lrWarmupSteps: { kind: { type: "warmup" }, doc: "warm-up steps, or below 1 a fraction of all steps" },
  lrSchedulerNumCycles: integer("restarts of cosine_with_restarts", 1),
  lrSchedulerPower: number("power of the polynomial schedule", { above: 0 }),
  maxGradNorm: number("clip the gradients' global norm to this (0 = no clipping)", { min: 0 }),
  gradientAccumulationSteps: integer("add up the gradients of N batches before each update", 1),
  trainBatchSize: integer("images per step", 1),
  maxTrainEpochs: integer("epochs to train; overrides max_train_steps", 1),
  maxTrainSteps: integer("steps to train when max_train_epochs is not set", 1),
  seed: integer("seed of noise, timesteps, shuffling and augmentation"),
  gradientCheckpointing: boolean("recompute activations in the backward pass to save memory"),
  mixedPrecision: choice("precision of the frozen weights and activations", ["no", "fp16", "bf16"]),
  fullFp16: boolean(
    "keep the trained weights and optimizer moments in fp16 too (needs mixed_precision fp16)",
  ),
  fullBf16: boolean(
    "keep the trained weights and optimizer moments in bf16 too (needs mixed_precision bf16)",
  ),
  clipSkip: integer("use the text encoder's Nth layer from the end (2 for NAI-derived anime models)", 1),
  maxTokenLength: {
    kind: { type: "integer", oneOf: [75, 150, 225] },
    doc: "caption length in tokens: 75, 150 or 225",
  },
  noiseOffset: number("noise offset (about 0.1 helps very dark and bright images)", { min: 0 }),
  noiseOffsetRandomStrength: boolean("scale the noise offset by a random factor in [0, 1)"),
  adaptiveNoiseScale: number("add this times the latents' mean to the noise offset"),
  multiresNoiseIterations: integer("pyramid noise levels (6–10 suggested)", 1),
  multiresNoiseDiscount: rate("weight decay per pyramid level"),
  ipNoiseGamma: number("input perturbation of the noisy latents (0.1 suggested)", { min: 0 }),
  minSnrGamma: number("min-SNR loss weighting γ (5 suggested)", { above: 0 }),
  scaleVPredLossLikeNoisePred: boolean("scale a v-prediction loss like an ε-prediction loss"),
  debiasedEstimationLoss: boolean("weight the loss by 1/√SNR"),
  zeroTerminalSnr: boolean("rescale the noise schedule to zero SNR at the last step"),
  lossType: choice("the loss", ["l2", "l1", "huber", "smooth_l1"]),
  huberC: number("the Huber loss's c", { above: 0 }),
  huberSchedule: choice("how huber_c varies with the timestep", ["constant", "exponential", "snr"]),
  minTimestep: integer("smallest timestep drawn", 0, 1000),
  maxTimestep: integer("timesteps are drawn below this", 0, 1000),
  outputDir: path("where the LoRA files go"),
  outputName: text("file name of the LoRA without extension (kohya's default: last)"),
  saveModelAs: choice("file format; danlu writes safetensors", ["safetensors"]),
  savePrecision: choice("dtype of the written LoRA (default: as trained)", ["float", "fp16", "bf16"]),
  saveEveryNEpochs: integer("also write a file every N epochs (the guide: 2)", 1),
  saveEveryNSteps: integer("also write a file every N steps", 1),
  saveLastNEpochs: integer("keep only the last N epoch files", 1),
  saveLastNSteps: integer("keep only the files of the last N steps", 1),
  saveState: boolean("write a resumable state with each file"),
  saveStateOnTrainEnd: boolean("write a resumable state at the end"),
  resume: path("continue from this state folder"),
  loggingDir: path("where the logs go (TensorBoard events and JSON lines)"),
  logPrefix: text("prefix of the log run's name"),
  trainingComment: text("a comment stored in the LoRA's metadata"),
  noMetadata: boolean("write no ss_* metadata into the LoRA file"),
  metadataTitle: text("modelspec title"),
  metadataAuthor: text("modelspec author"),
  metadataDescription: text("modelspec description"),
  metadataLicense: text("modelspec license"),
  metadataTags: text("modelspec tags, comma-separated"),
  sampleEveryNEpochs: integer("draw sample images every N epochs", 1),
  sampleEveryNSteps: integer("draw sample images every N steps", 1),
  samplePrompts: path("the sample prompts file (.txt, .toml or .json)"),
  sampleSampler: choice("the sampler for sample images", sampleSamplers),
  sampleAtFirst: boolean("draw sample images before the first step too"),
}

export type TrainConfigKey = keyof TrainConfig

/** kohya's option name of a field: `networkDim` → `network_dim`, `fullBf16` → `full_bf16`. */
export const kohyaOptionName = (key: string): string =>
  key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)

const fieldByKohyaName: ReadonlyMap<string, TrainConfigKey> = new Map(
  (Object.keys(trainOptionSpecs) as Array<TrainConfigKey>).map((key) => [kohyaOptionName(key), key]),
)

/** The field of a kohya option name, or undefined when danlu has no such option. */
export const trainConfigKey = (kohya: string): TrainConfigKey | undefined => fieldByKohyaName.get(kohya)

/**
 * A training option with a value of the wrong type or out of range. `key` is kohya's name (as the
 * user wrote it); `where` says where the value came from (a file, a flag).
 */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly key: string
  readonly value: unknown
  readonly expected: string
  readonly where?: string
}> {
  override get message(): string {
    const at = this.where === undefined ? "" : `${this.where}: `
    return `${at}${this.key} = ${formatConfigValue(this.value)}: expected ${this.expected}`
  }
}

/** A value as the user would write it in TOML. */
export const formatConfigValue = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(formatConfigValue).join(", ")}]`
  if (value === null) return "null"
  if (typeof value === "object") return JSON.stringify(value)
  return String(value)
}

const describeRange = (min: number | undefined, max: number | undefined, above?: number): string => {
  if (above !== undefined && max !== undefined) return ` above ${above} and at most ${max}`
  if (above !== undefined) return ` above ${above}`
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`
  if (min !== undefined) return min === 0 ? " ≥ 0" : ` ≥ ${min}`
  if (max !== undefined) return ` ≤ ${max}`
  return ""
}

/** What an option expects, in words, for one-line errors. */
export const describeKind = (kind: OptionKind): string => {
  switch (kind.type) {
    case "boolean":
      return "true or false"
    case "integer":
      return kind.oneOf !== undefined
        ? `one of ${kind.oneOf.join(", ")}`
        : `an integer${describeRange(kind.min, kind.max)}`
    case "number":
      return `a number${describeRange(kind.min, kind.max, kind.above)}`
    case "string":
      return "a string"
    case "path":
      return "a path (a string)"
    case "choice":
      return kind.choices.length === 1
        ? `"${kind.choices[0]}"`
        : `one of ${kind.choices.map((choice) => `"${choice}"`).join(", ")}`
    case "resolution":
      return 'a size such as 512 or "512,768" (width,height), multiples of 8'
    case "warmup":
      return "a step count ≥ 0, or a fraction of all steps below 1"
    case "optimizerArgs":
      return 'key=value strings such as "weight_decay=0.1" or "betas=0.9,0.99"'
    case "networkArgs":
      return 'key=value strings such as "conv_dim=8"'
  }
}

/** Where a raw value came from: TOML keeps its types; flags arrive as text. */
export type ValueOrigin = "toml" | "text"

type Decoded = { readonly ok: true; readonly value: unknown } | { readonly ok: false }
const ok = (value: unknown): Decoded => ({ ok: true, value })
const bad: Decoded = { ok: false }

const numberFrom = (value: unknown, origin: ValueOrigin): number | undefined => {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined
  if (origin === "text" && typeof value === "string" && value.trim() !== "") {
    const parsed = Number(value.trim())
    return Number.isFinite(parsed) ? parsed : undefined
  }
  return undefined
}

const inRange = (value: number, min?: number, max?: number, above?: number): boolean =>
  (min === undefined || value >= min) &&
  (max === undefined || value <= max) &&
  (above === undefined || value > above)

/** Parses kohya's resolution forms: 512, "512", "512,768", [512, 768]. Sides must be multiples of 8. */
export const parseResolution = (value: unknown): Resolution | undefined => {
  let sides: Array<unknown>
  if (typeof value === "number") sides = [value]
  else if (typeof value === "string") {
    const parts = value.split(",").map((part) => part.trim())
    if (parts.some((part) => !/^\d+$/.test(part))) return undefined
    sides = parts.map(Number)
  } else if (Array.isArray(value)) sides = value
  else return undefined
  if (sides.length < 1 || sides.length > 2) return undefined
  const width = sides[0]
  const height = sides.length === 2 ? sides[1] : width
  const valid = (side: unknown): side is number =>
    typeof side === "number" && Number.isInteger(side) && side >= 8 && side % 8 === 0
  return valid(width) && valid(height) ? { width, height } : undefined
}

/** The `key=value` strings of a list option: a TOML array, one string of several, or repeated flags. */
const keyValueStrings = (value: unknown): Array<string> | undefined => {
  const items = typeof value === "string" ? [value] : Array.isArray(value) ? value : undefined
  if (items === undefined || items.some((item) => typeof item !== "string")) return undefined
  return (items as Array<string>).flatMap((item) => item.split(/\s+/)).filter((item) => item !== "")
}

const splitPair = (item: string): readonly [string, string] | undefined => {
  const at = item.indexOf("=")
  if (at <= 0) return undefined
  return [item.slice(0, at).trim(), item.slice(at + 1).trim()]
}

/**
 * One `optimizer_args` value read as Python's `ast.literal_eval` reads the literals kohya users
 * write: numbers, True/False/None, quoted strings, and tuples or lists of numbers (`0.9,0.99`).
 */
export const parseOptimizerArgValue = (text: string): OptimizerArgValue | undefined => {
  const trimmed = text.trim()
  if (trimmed === "True") return true
  if (trimmed === "False") return false
  if (trimmed === "None") return null
  const quoted = /^(['"])(.*)\1$/s.exec(trimmed)
  if (quoted !== null) return quoted[2]!
  const number = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
  if (number.test(trimmed)) return Number(trimmed)
  const inner = /^[([](.*)[)\]]$/s.exec(trimmed)?.[1] ?? (trimmed.includes(",") ? trimmed : undefined)
  if (inner === undefined) return undefined
  const items = inner
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "")
  if (items.length === 0 || !items.every((item) => number.test(item))) return undefined
  return items.map(Number)
}

const networkArgFields: Readonly<Record<string, { key: keyof NetworkArgs; kind: OptionKind }>> = {
  conv_dim: { key: "convDim", kind: { type: "integer", min: 1 } },
  conv_alpha: { key: "convAlpha", kind: { type: "number", min: 0 } },
  rank_dropout: { key: "rankDropout", kind: { type: "number", min: 0, max: 1 } },
  module_dropout: { key: "moduleDropout", kind: { type: "number", min: 0, max: 1 } },
}

/** A raw value decoded by its kind, or nothing when it does not fit. */
const decodeByKind = (kind: OptionKind, value: unknown, origin: ValueOrigin): Decoded => {
  switch (kind.type) {
    case "boolean":
      if (typeof value === "boolean") return ok(value)
      if (origin === "text" && (value === "true" || value === "false")) return ok(value === "true")
      return bad
    case "integer": {
      const parsed = numberFrom(value, origin)
      if (parsed === undefined || !Number.isInteger(parsed)) return bad
      if (kind.oneOf !== undefined) return kind.oneOf.includes(parsed) ? ok(parsed) : bad
      return inRange(parsed, kind.min, kind.max) ? ok(parsed) : bad
    }
    case "number": {
      const parsed = numberFrom(value, origin)
      return parsed !== undefined && inRange(parsed, kind.min, kind.max, kind.above) ? ok(parsed) : bad
    }
    case "string":
    case "path":
      return typeof value === "string" ? ok(value) : bad
    case "choice": {
      if (typeof value !== "string") return bad
      const wanted = kind.aliases?.[value] ?? value
      const found = kind.choices.find((choice) =>
        kind.ignoreCase === true ? choice.toLowerCase() === wanted.toLowerCase() : choice === wanted,
      )
      return found === undefined ? bad : ok(found)
    }
    case "resolution": {
      const parsed = parseResolution(value)
      return parsed === undefined ? bad : ok(parsed)
    }
    case "warmup": {
      const parsed = numberFrom(value, origin)
      if (parsed === undefined || parsed < 0) return bad
      return parsed < 1 || Number.isInteger(parsed) ? ok(parsed) : bad
    }
    case "optimizerArgs":
    case "networkArgs":
      return keyValueStrings(value) === undefined ? bad : ok(value)
  }
}

/** Why a key in a kohya config was not used. Every such key is listed to the user, never dropped silently. */
export type IgnoreReason = "no effect in danlu" | "not supported by danlu" | "not a kohya option"

/** A key of a kohya config (or a flag) that danlu read and did not use. */
export interface IgnoredOption {
  /** As written, with its place for nested keys: `xformers`, `datasets[0].subsets[1].enable_wildcard`. */
  readonly key: string
  readonly reason: IgnoreReason
  /** What to do instead, or why it does not matter; absent when the reason says it all. */
  readonly hint?: string
}

/** `xformers: no effect in danlu (…)` */
export const formatIgnoredOption = (ignored: IgnoredOption): string =>
  `${ignored.key}: ${ignored.reason}${ignored.hint === undefined ? "" : ` (${ignored.hint})`}`

/**
 * One value decoded by its kind, failing with a `ConfigError` that names `key` (as the user wrote it),
 * the value and what is expected. Shared by the training options and kohya's dataset_config.
 */
export const decodeOptionValue = (
  key: string,
  kind: OptionKind,
  value: unknown,
  origin: ValueOrigin,
  where?: string,
): Effect.Effect<unknown, ConfigError> => {
  const decoded = decodeByKind(kind, value, origin)
  return decoded.ok
    ? Effect.succeed(decoded.value)
    : Effect.fail(
        new ConfigError({
          key,
          value,
          expected: describeKind(kind),
          ...(where === undefined ? {} : { where }),
        }),
      )
}

/** Decoded options and the keys danlu does not know (for the caller to list, never to drop). */
export interface DecodedTrainOptions {
  readonly options: Partial<TrainConfig>
  /** Keys without a danlu option, as written (`network_args.block_dims` for a network argument). */
  readonly unknownKeys: ReadonlyArray<string>
}

const decodeKeyValues = (
  key: string,
  kind: "optimizerArgs" | "networkArgs",
  raw: unknown,
  where: string | undefined,
  unknownKeys: Array<string>,
): Effect.Effect<unknown, ConfigError> => {
  const fail = (value: unknown, expected: string) =>
    Effect.fail(new ConfigError({ key, value, expected, ...(where === undefined ? {} : { where }) }))
  const items = keyValueStrings(raw)
  if (items === undefined) return fail(raw, describeKind({ type: kind }))
  const out: Record<string, unknown> = {}
  for (const item of items) {
    const pair = splitPair(item)
    if (pair === undefined) return fail(item, "key=value")
    const [name, valueText] = pair
    if (kind === "optimizerArgs") {
      const value = parseOptimizerArgValue(valueText)
      if (value === undefined) {
        return fail(item, "a Python literal after = (a number, True, False, a quoted string, or 0.9,0.99)")
      }
      out[name] = value
      continue
    }
    const field = networkArgFields[name]
    if (field === undefined) {
      unknownKeys.push(`${key}.${name}`)
      continue
    }
    const decoded = decodeByKind(field.kind, valueText, "text")
    if (!decoded.ok) return fail(item, `${name}=${describeKind(field.kind)}`)
    out[field.key] = decoded.value
  }
  return Effect.succeed(out)
}

/**
 * Decodes kohya-named options (`network_dim`, `resolution`, …) into `TrainConfig` fields, checking
 * each value's type and range. A wrong value fails with one `ConfigError` naming the key, the value
 * and what is expected; keys danlu does not know come back in `unknownKeys`.
 */
export const decodeTrainOptions = (
  values: Readonly<Record<string, unknown>>,
  origin: ValueOrigin,
  where?: string,
): Effect.Effect<DecodedTrainOptions, ConfigError> =>
  Effect.gen(function* () {
    const options: Record<string, unknown> = {}
    const unknownKeys: Array<string> = []
    for (const [name, raw] of Object.entries(values)) {
      const key = trainConfigKey(name)
      if (key === undefined) {
        unknownKeys.push(name)
        continue
      }
      const { kind } = trainOptionSpecs[key]
      // GUIs write "" for an unset path or text (lora-scripts: reg_data_dir = ""); kohya reads it as unset.
      if (raw === "" && !(key in defaultTrainConfig)) continue
      if (kind.type === "optimizerArgs" || kind.type === "networkArgs") {
        options[key] = yield* decodeKeyValues(name, kind.type, raw, where, unknownKeys)
        continue
      }
      options[key] = yield* decodeOptionValue(name, kind, raw, origin, where)
    }
    return { options: options as Partial<TrainConfig>, unknownKeys }
  })

/** A full config: kohya's defaults under the given options (network_args merged key by key). */
export const resolveTrainConfig = (partial: Partial<TrainConfig>): TrainConfig => {
  const merged: Record<string, unknown> = { ...defaultTrainConfig }
  for (const [key, value] of Object.entries(partial)) if (value !== undefined) merged[key] = value
  return merged as unknown as TrainConfig
}

/**
 * Layers options, later ones winning key by key. A later `network_args` or `optimizer_args` replaces
 * the earlier list whole, as a command-line list replaces the config file's in sd-scripts.
 */
export const mergeTrainOptions = (...layers: ReadonlyArray<Partial<TrainConfig>>): Partial<TrainConfig> => {
  const out: Record<string, unknown> = {}
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) if (value !== undefined) out[key] = value
  }
  return out as Partial<TrainConfig>
}

/**
 * Checks a typed config field by field (a library caller's values have types but may be out of
 * range) and returns it with choices in kohya's spelling (`adamw8bit` → `AdamW8bit`). The first
 * wrong field fails, named by its kohya option name.
 */
export const validateTrainConfig = (config: TrainConfig): Effect.Effect<TrainConfig, ConfigError> =>
  Effect.gen(function* () {
    const out: Record<string, unknown> = { ...config }
    for (const key of Object.keys(trainOptionSpecs) as Array<TrainConfigKey>) {
      const value = config[key]
      if (value === undefined) continue
      const { kind } = trainOptionSpecs[key]
      const fail = (shown: unknown, expected: string) =>
        new ConfigError({ key: kohyaOptionName(key), value: shown, expected })
      if (kind.type === "resolution") {
        const { width, height } = value as Resolution
        if (parseResolution([width, height]) === undefined) return yield* fail(value, describeKind(kind))
        continue
      }
      if (kind.type === "networkArgs") {
        for (const [name, field] of Object.entries(networkArgFields)) {
          const arg = (value as NetworkArgs)[field.key]
          if (arg !== undefined && !decodeByKind(field.kind, arg, "toml").ok) {
            return yield* fail(`${name}=${arg}`, `${name}=${describeKind(field.kind)}`)
          }
        }
        continue
      }
      if (kind.type === "optimizerArgs") continue
      const decoded = decodeByKind(kind, value, "toml")
      if (!decoded.ok) return yield* fail(value, describeKind(kind))
      out[key] = decoded.value
    }
    return out as unknown as TrainConfig
  })
