import {
  type ConfigError,
  formatConfigValue,
  type IgnoredOption,
  kohyaOptionName,
  type OptionKind,
  resolveTrainConfig,
  type TrainConfig,
  trainOptionSpecs,
} from "@danlu/core"
import type { DatasetConfig } from "@danlu/dataset"
import { Effect, Option } from "effect"
import { Flag } from "effect/cli"
import { UserError } from "../userError.js"
import {
  layerTrainOptions,
  readDatasetConfigFile,
  readTrainConfigFile,
  trainOptionsFrom,
} from "./configFile.js"
import { unusedKohyaOptions } from "./kohyaOptions.js"

/** What one `danlu train` flag parses to before decoding: text, a switch, or a list of `key=value`. */
export type TrainFlagValue = Option.Option<string> | Option.Option<boolean> | ReadonlyArray<string>

const listKinds: ReadonlySet<OptionKind["type"]> = new Set(["optimizerArgs", "networkArgs"])

/** kohya's options that take several values after one flag (`nargs="*"`). */
const listOptions: ReadonlySet<string> = new Set([
  ...(Object.keys(trainOptionSpecs) as Array<keyof TrainConfig>)
    .filter((key) => listKinds.has(trainOptionSpecs[key].kind.type))
    .map(kohyaOptionName),
  "lr_scheduler_args",
  "base_weights",
  "base_weights_multiplier",
])

/** Unused kohya switches (the rest of `unusedKohyaOptions` take a value). */
const unusedSwitches: ReadonlySet<string> = new Set([
  "xformers",
  "sdpa",
  "mem_eff_attn",
  "persistent_data_loader_workers",
  "lowram",
  "highvram",
  "lowvram",
  "torch_compile",
  "skip_cache_check",
  "log_config",
  "save_state_to_huggingface",
  "resume_from_huggingface",
  "async_upload",
  "console_log_simple",
  "ddp_gradient_as_bucket_view",
  "ddp_static_graph",
  "deepspeed",
  "output_config",
  "no_half_vae",
  "fp8_base",
  "fp8_base_unet",
  "weighted_captions",
  "dim_from_weights",
  "ip_noise_gamma_random_strength",
  "skip_until_initial_step",
  "cache_text_encoder_outputs_to_disk",
  "cpu_offload_checkpointing",
  "fused_backward_pass",
  "mem_eff_save",
  "train_text_encoder",
  "no_token_padding",
])

const flagFor = (name: string, kind: OptionKind["type"] | "switch" | "value", doc: string) => {
  if (kind === "boolean" || kind === "switch") {
    return Flag.Boolean(name).pipe(Flag.withDescription(doc), Flag.optional) as Flag.Flag<TrainFlagValue>
  }
  if (listOptions.has(name)) {
    return Flag.String(name).pipe(Flag.withDescription(doc), Flag.atLeast(0)) as Flag.Flag<TrainFlagValue>
  }
  return Flag.String(name).pipe(Flag.withDescription(doc), Flag.optional) as Flag.Flag<TrainFlagValue>
}

/** The two training commands: `danlu train` (a LoRA, train_network.py) and `danlu finetune` (train_db.py). */
export type TrainingCommand = "train" | "finetune"

/** Options only one command uses: the LoRA's network options, and full fine-tuning's text-encoder ones. */
const commandOnly: Readonly<Record<TrainingCommand, ReadonlySet<string>>> = {
  train: new Set([
    "network_module",
    "network_dim",
    "network_alpha",
    "network_args",
    "network_dropout",
    "network_weights",
    "network_train_unet_only",
    "network_train_text_encoder_only",
    "unet_lr",
    "text_encoder_lr",
  ]),
  finetune: new Set(["learning_rate_te", "stop_text_encoder_training"]),
}

/** The other command's options: accepted (hidden) by this one, and listed as unused. */
const foreignOptions = (command: TrainingCommand): ReadonlySet<string> =>
  commandOnly[command === "train" ? "finetune" : "train"]

const buildFlags = (command: TrainingCommand): Readonly<Record<string, Flag.Flag<TrainFlagValue>>> => {
  const flags: Record<string, Flag.Flag<TrainFlagValue>> = {
    config_file: flagFor(
      "config_file",
      "value",
      "a kohya TOML of these options (flat, or in sections as 秋叶's and kohya_ss' GUIs write it); flags override it",
    ),
  }
  const foreign = foreignOptions(command)
  for (const key of Object.keys(trainOptionSpecs) as Array<keyof TrainConfig>) {
    const name = kohyaOptionName(key)
    const spec = trainOptionSpecs[key]
    const flag = flagFor(name, spec.kind.type, spec.doc)
    flags[name] = foreign.has(name) ? flag.pipe(Flag.withHidden) : flag
  }
  for (const [name, unused] of Object.entries(unusedKohyaOptions)) {
    const doc = `${unused.reason}${unused.hint === undefined ? "" : `: ${unused.hint}`}`
    flags[name] = flagFor(name, unusedSwitches.has(name) ? "switch" : "value", doc).pipe(Flag.withHidden)
  }
  return flags
}

/**
 * `danlu train`'s flags, named as sd-scripts names them (`--network_dim 32`, `--resolution 512,768`,
 * `--cache_latents`, `--optimizer_args weight_decay=0.1`). Every value is optional: what is not given
 * comes from `--config_file`, then kohya's defaults. kohya's options that danlu does not use are
 * hidden flags, so a kohya command line runs and lists them. Keys are the kohya names.
 */
export const trainFlags: Readonly<Record<string, Flag.Flag<TrainFlagValue>>> = buildFlags("train")

/**
 * `danlu finetune`'s flags: `danlu train`'s, with train_db.py's `learning_rate_te` and
 * `stop_text_encoder_training` in place of the network's (which it accepts and lists as unused).
 */
export const finetuneFlags: Readonly<Record<string, Flag.Flag<TrainFlagValue>>> = buildFlags("finetune")

/**
 * kohya lists several values after one flag (`--optimizer_args weight_decay=0.1 betas=0.9,0.99`);
 * effect/cli takes one value per flag, so this repeats the flag for each (`--optimizer_args a
 * --optimizer_args b`). Run it on `danlu train`'s arguments before parsing.
 */
export const expandKohyaLists = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const out: Array<string> = []
  let list: string | undefined
  let needsFlag = false
  for (const [index, arg] of args.entries()) {
    if (arg === "--") return [...out, ...args.slice(index)]
    if (arg.startsWith("--")) {
      const [name = "", value] = arg.slice(2).split(/=(.*)/s)
      list = listOptions.has(name) ? name : undefined
      needsFlag = value !== undefined
      out.push(arg)
    } else if (arg.startsWith("-") && !/^-[\d.]/.test(arg)) {
      list = undefined
      out.push(arg)
    } else if (list !== undefined) {
      if (needsFlag) out.push(`--${list}`)
      needsFlag = true
      out.push(arg)
    } else {
      out.push(arg)
    }
  }
  return out
}

/**
 * Given twice, a kohya option keeps its last value, as argparse does (`$COMMON --learning_rate 1e-4`
 * overrides the rate in `$COMMON`); effect/cli would keep the first. A flag and the values after it
 * form one group, and only the last group of each name stays. Run it before `expandKohyaLists`.
 */
export const keepLastFlagValues = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const end = args.indexOf("--")
  const head = end === -1 ? args : args.slice(0, end)
  const groups: Array<{ readonly name: string | undefined; readonly tokens: Array<string> }> = []
  for (const arg of head) {
    if (arg.startsWith("--")) groups.push({ name: arg.slice(2).split("=")[0], tokens: [arg] })
    else if (arg.startsWith("-") && !/^-[\d.]/.test(arg)) groups.push({ name: arg, tokens: [arg] })
    else if (groups.length === 0) groups.push({ name: undefined, tokens: [arg] })
    else groups[groups.length - 1]?.tokens.push(arg)
  }
  const last = new Map(groups.map((group, index) => [group.name, index]))
  const kept = groups.flatMap((group, index) =>
    group.name === undefined || last.get(group.name) === index ? group.tokens : [],
  )
  return end === -1 ? kept : [...kept, ...args.slice(end)]
}

/** Everything `danlu train` needs from its flags and files. */
export interface TrainSetup {
  readonly config: TrainConfig
  /** The dataset_config file read, when `dataset_config` is set. */
  readonly dataset?: DatasetConfig
  /** Every key of the files and flags that danlu did not use, with why. */
  readonly ignored: ReadonlyArray<IgnoredOption>
}

/** A flag's wrong value, told the way the user typed it. */
const asFlagError = (error: ConfigError): UserError =>
  new UserError({
    message: `--${error.key} ${typeof error.value === "string" ? error.value : formatConfigValue(error.value)}: expected ${error.expected}`,
  })

/**
 * The config of a `danlu train` (or `danlu finetune`) run, as sd-scripts builds it: `--config_file` (flat or sectioned
 * TOML), the flags over it, kohya's defaults under both; then `dataset_config` read with those as its
 * fallbacks. Wrong values fail in one line; unused keys, the other command's options among them, are
 * listed in `ignored`.
 */
export const resolveTrainFlags = (
  values: Readonly<Record<string, TrainFlagValue>>,
  command: TrainingCommand = "train",
): Effect.Effect<TrainSetup, UserError | ConfigError> =>
  Effect.gen(function* () {
    const given: Record<string, unknown> = {}
    let configFile: string | undefined
    for (const [name, value] of Object.entries(values)) {
      if (Array.isArray(value)) {
        if (value.length > 0) given[name] = value
        continue
      }
      const option = value as Option.Option<string | boolean>
      if (Option.isNone(option)) continue
      if (name === "config_file") configFile = String(option.value)
      else given[name] = option.value
    }
    const fromFlags = yield* trainOptionsFrom(given, "text", "command line").pipe(
      Effect.mapError(asFlagError),
    )
    const fromFile =
      configFile === undefined ? { options: {}, ignored: [] } : yield* readTrainConfigFile(configFile)
    const layered = layerTrainOptions(fromFile, fromFlags)
    const foreign = foreignOptions(command)
    const options: Record<string, unknown> = {}
    const ignored: Array<IgnoredOption> = [...layered.ignored]
    for (const [key, value] of Object.entries(layered.options)) {
      const name = kohyaOptionName(key)
      if (!foreign.has(name)) options[key] = value
      else
        ignored.push({
          key: name,
          reason: "no effect in danlu",
          hint: command === "train" ? "an option of danlu finetune" : "a LoRA option of danlu train",
        })
    }
    const config = resolveTrainConfig(options as Partial<TrainConfig>)
    if (config.datasetConfig === undefined) return { config, ignored }
    const dataset = yield* readDatasetConfigFile(config.datasetConfig, config)
    return { config, dataset, ignored: [...ignored, ...dataset.ignored] }
  })
