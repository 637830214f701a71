import { readFile } from "node:fs/promises"
import {
  ConfigError,
  decodeTrainOptions,
  type IgnoredOption,
  mergeTrainOptions,
  type TrainConfig,
} from "@danlu/core"
import { type DatasetConfig, parseDatasetConfig } from "@danlu/dataset"
import { Effect } from "effect"
import { parse, TomlError } from "smol-toml"
import { UserError } from "../userError.js"
import { unusedOption } from "./kohyaOptions.js"

/** Training options read from a config file or flags, and every key that was not used. */
export interface TrainOptions {
  readonly options: Partial<TrainConfig>
  readonly ignored: ReadonlyArray<IgnoredOption>
}

type Table = Readonly<Record<string, unknown>>

const isTable = (value: unknown): value is Table =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)

/**
 * kohya's `read_config_from_file`: the tables of the file's top level are sections whose keys count as
 * top-level keys (`[model_arguments]`, `[training_arguments]`, … as lora-scripts and older kohya_ss
 * GUIs write them; a later section wins a repeated key), and flat files are read as they are.
 */
export const flattenSections = (document: Table): Table => {
  const flat: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(document)) {
    if (isTable(value) && name !== "custom_attributes") Object.assign(flat, value)
    else flat[name] = value
  }
  return flat
}

/** sd-scripts' spelling mistakes and legacy switches, turned into the options they stand for. */
const applyKohyaAliases = (values: Table, where: string): Effect.Effect<Table, ConfigError> => {
  const out: Record<string, unknown> = { ...values }
  if ("caption_extention" in out) {
    out.caption_extension ??= out.caption_extention
    delete out.caption_extention
  }
  for (const [legacy, optimizer] of [
    ["use_8bit_adam", "AdamW8bit"],
    ["use_lion_optimizer", "Lion"],
  ] as const) {
    if (!(legacy in out)) continue
    const on = out[legacy]
    if (typeof on !== "boolean") {
      return Effect.fail(new ConfigError({ key: legacy, value: on, expected: "true or false", where }))
    }
    delete out[legacy]
    if (!on) continue
    const chosen = out.optimizer_type
    if (chosen !== undefined && chosen !== "" && chosen !== optimizer) {
      return Effect.fail(
        new ConfigError({
          key: legacy,
          value: on,
          expected: `false when optimizer_type = "${chosen}"`,
          where,
        }),
      )
    }
    out.optimizer_type = optimizer
  }
  return Effect.succeed(out)
}

/**
 * Training options from kohya-named values (a parsed `--config_file`, or flags): each known option
 * decoded and checked, each other key listed in `ignored` with why.
 */
export const trainOptionsFrom = (
  values: Table,
  origin: "toml" | "text",
  where: string,
): Effect.Effect<TrainOptions, ConfigError> =>
  Effect.gen(function* () {
    const aliased = yield* applyKohyaAliases(values, where)
    const { options, unknownKeys } = yield* decodeTrainOptions(aliased, origin, where)
    return { options, ignored: unknownKeys.map((key) => unusedOption(key, aliased[key])) }
  })

/** Reads a TOML file as a table; a syntax error is one line with the place. */
export const readToml = (path: string, what: string): Effect.Effect<Table, UserError> =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (cause) =>
        new UserError({
          message:
            (cause as NodeJS.ErrnoException).code === "ENOENT"
              ? `${what} ${path} does not exist`
              : `${what} ${path} cannot be read: ${(cause as Error).message}`,
        }),
    })
    return yield* Effect.try({
      try: () => parse(text) as Table,
      catch: (cause) => {
        if (cause instanceof TomlError) {
          const reason = cause.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "")
          return new UserError({
            message: `${path}:${cause.line}:${cause.column}: not valid TOML: ${reason}`,
          })
        }
        return new UserError({ message: `${path}: not valid TOML: ${String(cause)}` })
      },
    })
  })

/** kohya's rule: `--config_file name` reads `name.toml` unless the name already ends in `.toml`. */
export const configFilePath = (path: string): string => (path.endsWith(".toml") ? path : `${path}.toml`)

/** kohya's `--config_file`: a flat or sectioned TOML of training options. */
export const readTrainConfigFile = (path: string): Effect.Effect<TrainOptions, UserError | ConfigError> =>
  Effect.gen(function* () {
    const file = configFilePath(path)
    const document = yield* readToml(file, "config_file")
    return yield* trainOptionsFrom(flattenSections(document), "toml", file)
  })

/** kohya's `--dataset_config`, with the training options as the fallback for every dataset option. */
export const readDatasetConfigFile = (
  path: string,
  options: TrainConfig,
): Effect.Effect<DatasetConfig, UserError | ConfigError> =>
  Effect.flatMap(readToml(path, "dataset_config"), (document) => parseDatasetConfig(document, options, path))

/**
 * Options from several places, later ones winning (kohya: the command line over the config file); a
 * key ignored in more than one place is listed once.
 */
export const layerTrainOptions = (...layers: ReadonlyArray<TrainOptions>): TrainOptions => {
  const ignored = new Map<string, IgnoredOption>()
  for (const item of layers.flatMap((layer) => layer.ignored)) ignored.set(item.key, item)
  return {
    options: mergeTrainOptions(...layers.map((layer) => layer.options)),
    ignored: [...ignored.values()],
  }
}
