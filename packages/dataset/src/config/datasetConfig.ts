import {
  ConfigError,
  decodeOptionValue,
  type IgnoredOption,
  type OptionKind,
  type Resolution,
  type TrainConfig,
  trainOptionSpecs,
} from "@danlu/core"
import { Effect } from "effect"

/**
 * One `[[datasets.subsets]]` of kohya's dataset_config: a folder of images with its repeats and
 * caption options. Unlike a `10_name` folder, the folder's name means nothing here (kohya's rule).
 */
export interface DatasetSubset {
  /** The images, as written in the file (kohya reads a relative path from the working directory). */
  readonly imageDir: string
  readonly numRepeats: number
  /** The caption of an image without a caption file. */
  readonly classTokens?: string
  readonly isReg: boolean
  readonly captionExtension: string
  readonly shuffleCaption: boolean
  readonly keepTokens: number
  readonly keepTokensSeparator: string
  readonly secondarySeparator?: string
  readonly captionSeparator: string
  readonly captionPrefix?: string
  readonly captionSuffix?: string
  readonly captionDropoutRate: number
  readonly captionDropoutEveryNEpochs: number
  readonly captionTagDropoutRate: number
  readonly flipAug: boolean
  readonly colorAug: boolean
  readonly randomCrop: boolean
  readonly alphaMask: boolean
  /** Fraction held out for the validation loss; 1 makes the whole subset a validation set. */
  readonly validationSplit: number
}

/** One `[[datasets]]`: its size options and batch, and its subsets. */
export interface DatasetBlueprint {
  readonly resolution: Resolution
  readonly batchSize: number
  readonly enableBucket: boolean
  readonly minBucketReso: number
  readonly maxBucketReso: number
  readonly bucketResoSteps: number
  readonly bucketNoUpscale: boolean
  readonly subsets: ReadonlyArray<DatasetSubset>
}

/** A dataset_config file read: its datasets with every option resolved, and the keys not used. */
export interface DatasetConfig {
  readonly datasets: ReadonlyArray<DatasetBlueprint>
  readonly ignored: ReadonlyArray<IgnoredOption>
}

type SubsetField = Exclude<keyof DatasetSubset, "imageDir" | "numRepeats" | "classTokens" | "isReg">
type DatasetField = Exclude<keyof DatasetBlueprint, "subsets" | "batchSize">

/** Subset keys read from the training options when no level of the file sets them (kohya's fallback). */
const subsetFields: Readonly<Record<string, SubsetField>> = {
  caption_extension: "captionExtension",
  shuffle_caption: "shuffleCaption",
  keep_tokens: "keepTokens",
  keep_tokens_separator: "keepTokensSeparator",
  secondary_separator: "secondarySeparator",
  caption_separator: "captionSeparator",
  caption_prefix: "captionPrefix",
  caption_suffix: "captionSuffix",
  caption_dropout_rate: "captionDropoutRate",
  caption_dropout_every_n_epochs: "captionDropoutEveryNEpochs",
  caption_tag_dropout_rate: "captionTagDropoutRate",
  flip_aug: "flipAug",
  color_aug: "colorAug",
  random_crop: "randomCrop",
  alpha_mask: "alphaMask",
}

const datasetFields: Readonly<Record<string, DatasetField>> = {
  resolution: "resolution",
  enable_bucket: "enableBucket",
  min_bucket_reso: "minBucketReso",
  max_bucket_reso: "maxBucketReso",
  bucket_reso_steps: "bucketResoSteps",
  bucket_no_upscale: "bucketNoUpscale",
}

/** Keys only a subset may hold, with their kinds. */
const subsetOnly: Readonly<Record<string, OptionKind>> = {
  image_dir: { type: "path" },
  class_tokens: { type: "string" },
  is_reg: { type: "boolean" },
}

/** Keys any level may hold that are not training options (kohya's defaults: 1 repeat, no split). */
const anyLevel: Readonly<Record<string, OptionKind>> = {
  num_repeats: { type: "integer", min: 1 },
  validation_split: { type: "number", min: 0, max: 1 },
}
const batchSizeKind: OptionKind = { type: "integer", min: 1 }

/** sd-scripts' dataset_config keys that danlu reads and does not use, with why. */
const unusedKohyaKeys: Readonly<Record<string, Omit<IgnoredOption, "key">>> = {
  metadata_file: {
    reason: "not supported by danlu",
    hint: "fine-tuning metadata; use image_dir with caption files",
  },
  enable_wildcard: { reason: "not supported by danlu", hint: "only a caption's first line is used" },
  token_warmup_min: { reason: "not supported by danlu" },
  token_warmup_step: { reason: "not supported by danlu" },
  face_crop_aug_range: { reason: "not supported by danlu" },
  conditioning_data_dir: { reason: "not supported by danlu", hint: "ControlNet training" },
  custom_attributes: { reason: "not supported by danlu" },
  network_multiplier: { reason: "not supported by danlu" },
  resize_interpolation: { reason: "not supported by danlu", hint: "danlu resizes with Lanczos" },
  skip_image_resolution: { reason: "not supported by danlu" },
  cache_info: { reason: "no effect in danlu" },
  validation_seed: { reason: "no effect in danlu", hint: "set validation_seed in the training options" },
  debug_dataset: { reason: "no effect in danlu" },
}

type Table = Readonly<Record<string, unknown>>

const isTable = (value: unknown): value is Table =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The training option's kind for a dataset key (`flip_aug` reads as `flip_aug` does on the command line). */
const kindOf = (name: string): OptionKind | undefined => {
  if (name === "batch_size") return batchSizeKind
  if (name in anyLevel) return anyLevel[name]
  const field = subsetFields[name] ?? datasetFields[name]
  return field === undefined ? subsetOnly[name] : trainOptionSpecs[field].kind
}

type Level = "general" | "dataset" | "subset"

const allowedAt = (name: string, level: Level): boolean => {
  if (name in subsetOnly) return level === "subset"
  if (name in datasetFields || name === "batch_size") return level !== "subset"
  return name in subsetFields || name in anyLevel
}

/** One level's own keys decoded; unknown and misplaced keys go to `ignored`. */
const decodeLevel = (
  table: Table,
  level: Level,
  place: string,
  where: string | undefined,
  ignored: Array<IgnoredOption>,
): Effect.Effect<Record<string, unknown>, ConfigError> =>
  Effect.gen(function* () {
    const out: Record<string, unknown> = {}
    for (const [name, raw] of Object.entries(table)) {
      if (level !== "subset" && (name === "datasets" || name === "subsets")) continue
      const key = place === "" ? name : `${place}.${name}`
      const kind = kindOf(name)
      if (kind === undefined) {
        const known = unusedKohyaKeys[name]
        ignored.push(known === undefined ? { key, reason: "not a kohya option" } : { key, ...known })
        continue
      }
      if (!allowedAt(name, level)) {
        ignored.push({
          key,
          reason: "no effect in danlu",
          hint: `kohya reads ${name} only in a ${levelOf(name)}`,
        })
        continue
      }
      out[name] = yield* decodeOptionValue(key, kind, raw, "toml", where)
    }
    return out
  })

const levelOf = (name: string): string =>
  name in subsetOnly ? "[[datasets.subsets]]" : "[general] or [[datasets]]"

const tablesAt = (
  value: unknown,
  key: string,
  where: string | undefined,
): Effect.Effect<ReadonlyArray<Table>, ConfigError> => {
  if (value === undefined) return Effect.succeed([])
  if (Array.isArray(value) && value.every(isTable)) return Effect.succeed(value)
  return Effect.fail(
    new ConfigError({
      key,
      value,
      expected: `an array of tables ([[${key}]])`,
      ...(where === undefined ? {} : { where }),
    }),
  )
}

/**
 * Reads kohya's dataset_config from an already-parsed TOML document: `[general]`, `[[datasets]]` and
 * `[[datasets.subsets]]`. Each option comes from the subset, else its dataset, else `[general]`, else
 * the training options (`options`: the command line and config_file, as kohya falls back to them),
 * whose values are kohya's defaults when unset. Wrong values fail in one line; keys danlu does not
 * use are listed in `ignored`.
 */
export const parseDatasetConfig = (
  document: unknown,
  options: TrainConfig,
  where?: string,
): Effect.Effect<DatasetConfig, ConfigError> =>
  Effect.gen(function* () {
    const fail = (key: string, value: unknown, expected: string) =>
      new ConfigError({ key, value, expected, ...(where === undefined ? {} : { where }) })
    if (!isTable(document)) return yield* fail("dataset_config", document, "a TOML document")
    const ignored: Array<IgnoredOption> = []
    for (const name of Object.keys(document)) {
      if (name !== "general" && name !== "datasets") ignored.push({ key: name, reason: "not a kohya option" })
    }
    const generalRaw = document.general ?? {}
    if (!isTable(generalRaw)) return yield* fail("general", generalRaw, "a table ([general])")
    const general = yield* decodeLevel(generalRaw, "general", "general", where, ignored)
    const datasetTables = yield* tablesAt(document.datasets, "datasets", where)
    if (datasetTables.length === 0)
      return yield* fail("datasets", document.datasets, "at least one [[datasets]]")

    const fallback: Record<string, unknown> = {
      num_repeats: 1,
      batch_size: options.trainBatchSize,
      validation_split: options.validationSplit,
    }
    for (const [name, field] of Object.entries({ ...subsetFields, ...datasetFields })) {
      fallback[name] = options[field]
    }

    const datasets: Array<DatasetBlueprint> = []
    for (const [index, table] of datasetTables.entries()) {
      const place = `datasets[${index}]`
      const own = yield* decodeLevel(table, "dataset", place, where, ignored)
      const pick = (name: string): unknown => own[name] ?? general[name] ?? fallback[name]
      const subsetTables = yield* tablesAt(table.subsets, `${place}.subsets`, where)
      if (subsetTables.length === 0) {
        return yield* fail(
          `${place}.subsets`,
          table.subsets,
          "at least one [[datasets.subsets]] with an image_dir",
        )
      }
      const subsets: Array<DatasetSubset> = []
      for (const [subsetIndex, subsetTable] of subsetTables.entries()) {
        const subsetPlace = `${place}.subsets[${subsetIndex}]`
        const subset = yield* decodeLevel(subsetTable, "subset", subsetPlace, where, ignored)
        if (subset.image_dir === undefined || subset.image_dir === "") {
          return yield* fail(
            `${subsetPlace}.image_dir`,
            subsetTable.image_dir,
            "the folder of the subset's images",
          )
        }
        const resolved: Record<string, unknown> = {
          imageDir: subset.image_dir,
          numRepeats: subset.num_repeats ?? pick("num_repeats"),
          isReg: subset.is_reg ?? false,
          validationSplit: subset.validation_split ?? pick("validation_split"),
        }
        if (subset.class_tokens !== undefined) resolved.classTokens = subset.class_tokens
        for (const [name, field] of Object.entries(subsetFields)) {
          const value = subset[name] ?? pick(name)
          if (value !== undefined) resolved[field] = value
        }
        subsets.push(resolved as unknown as DatasetSubset)
      }
      const blueprint: Record<string, unknown> = { batchSize: pick("batch_size"), subsets }
      for (const [name, field] of Object.entries(datasetFields)) blueprint[field] = pick(name)
      datasets.push(blueprint as unknown as DatasetBlueprint)
    }
    return { datasets, ignored }
  })
