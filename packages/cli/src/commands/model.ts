import {
  type CheckpointInfo,
  familyLabel,
  type LoraInfo,
  type ModelInspection,
  type StorageDType,
  type TensorTally,
} from "@danlu/core/io"
import { convertCheckpointFile, inspectModelPath } from "@danlu/core/node"
import { Console, Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { switchFlag } from "./switchFlag.js"

const grouped = (n: number): string => n.toLocaleString("en-US")

const sizeText = (bytes: number): string =>
  bytes >= 1e9
    ? `${(bytes / 1e9).toFixed(2)} GB`
    : bytes >= 1e6
      ? `${(bytes / 1e6).toFixed(1)} MB`
      : bytes >= 1e3
        ? `${(bytes / 1e3).toFixed(1)} KB`
        : `${bytes} B`

const dtypeText = (dtypes: TensorTally["dtypes"]): string =>
  Object.entries(dtypes)
    .map(([dtype, count]) => `${dtype as StorageDType}×${count}`)
    .join(" ")

const tallyLine = (label: string, tally: TensorTally): string =>
  `    ${label.padEnd(15)} ${grouped(tally.parameters).padStart(15)} params ${String(tally.tensors).padStart(6)} tensors ${sizeText(tally.bytes).padStart(10)}  ${dtypeText(tally.dtypes)}`

const layoutText: Readonly<Record<CheckpointInfo["layout"], string>> = {
  ldm: "original single-file layout",
  "diffusers-unet": "diffusers UNet file",
  vae: "VAE only",
  "text-encoder": "text encoder only",
  "diffusers-folder": "diffusers folder",
  unknown: "unknown layout",
}

const checkpointText = (file: string, format: string, info: CheckpointInfo): Array<string> => {
  const family = info.family === undefined ? "unknown" : familyLabel[info.family]
  const lines = [
    `${file}: checkpoint (${format}, ${layoutText[info.layout]})`,
    `  model:          ${family} — ${info.familyBasis}`,
  ]
  if (info.unet !== undefined)
    lines.push(`  variant:        ${info.unet.variant} (${info.unet.inChannels} input channels)`)
  lines.push(`  prediction:     ${info.prediction} — ${info.predictionBasis}`)
  if (info.textEncoders.length > 0) lines.push(`  text encoders:  ${info.textEncoders.join(" + ")}`)
  lines.push(`  EMA weights:    ${info.hasEma ? "yes (model_ema.*)" : "no"}`)
  lines.push("  components:")
  for (const [component, tally] of Object.entries(info.components))
    if (tally !== undefined) lines.push(tallyLine(component, tally))
  lines.push(tallyLine("total", info.total))
  for (const note of info.notes) lines.push(`  note: ${note}`)
  return lines
}

const listText = (values: ReadonlyArray<number>): string => (values.length === 0 ? "none" : values.join(", "))

const loraText = (file: string, format: string, info: LoraInfo): Array<string> => {
  const family = info.family === undefined ? "an unknown base model" : familyLabel[info.family]
  const components = Object.entries(info.modulesByComponent)
    .map(([component, count]) => `${component} ${count}`)
    .join(", ")
  const lines = [
    `${file}: LoRA (${format}, ${info.keyStyle} keys, ${info.algorithm}) for ${family} — ${info.familyBasis}`,
    `  modules:        ${info.modules} (${components})`,
    `  rank:           ${listText(info.linearRanks)}${info.convRanks.length > 0 ? `; conv rank ${listText(info.convRanks)}` : ""}`,
    `  alpha:          ${info.alphas.length === 0 ? "none stored (alpha = rank)" : listText(info.alphas)}`,
    `  prediction:     ${info.prediction}`,
  ]
  if (info.networkModule !== undefined) lines.push(`  network module: ${info.networkModule}`)
  lines.push(tallyLine("size", info.total))
  const metadataKeys = Object.keys(info.metadata)
  if (metadataKeys.length > 0) {
    lines.push(`  metadata:       ${metadataKeys.length} keys`)
    for (const key of [
      "ss_base_model_version",
      "modelspec.architecture",
      "ss_network_dim",
      "ss_network_alpha",
      "ss_output_name",
    ]) {
      const value = info.metadata[key]
      if (value !== undefined) lines.push(`    ${key} = ${value}`)
    }
  }
  for (const note of info.notes) lines.push(`  note: ${note}`)
  return lines
}

/** The human-readable report of `danlu model inspect`. */
export const formatInspection = (inspection: ModelInspection): string =>
  (inspection.kind === "lora"
    ? loraText(inspection.file, inspection.format, inspection.lora)
    : checkpointText(inspection.file, inspection.format, inspection.checkpoint)
  ).join("\n")

const inspect = Command.make(
  "inspect",
  {
    path: Argument.String("file").pipe(
      Argument.withDescription("a .safetensors/.ckpt/.pt/.bin checkpoint or LoRA, or a diffusers folder"),
    ),
    json: switchFlag("json", "print the report as JSON"),
  },
  ({ path, json }) =>
    Effect.gen(function* () {
      const inspection = yield* inspectModelPath(path)
      yield* Console.log(json ? JSON.stringify(inspection, null, 2) : formatInspection(inspection))
    }),
).pipe(
  Command.withDescription(
    "Say what a base model or LoRA file is: SD1.x/SD2.x/SDXL, prediction, ranks, sizes.",
  ),
)

const convert = Command.make(
  "convert",
  {
    input: Argument.String("in").pipe(
      Argument.withDescription("a .ckpt/.pt/.bin checkpoint (read without running any code)"),
    ),
    output: Argument.String("out").pipe(Argument.withDescription("the .safetensors file to write")),
    force: switchFlag("force", "replace an existing output; the old file is kept as <out>.bak"),
  },
  ({ input, output, force }) =>
    Effect.gen(function* () {
      const result = yield* convertCheckpointFile(input, output, { existing: force ? "backup" : "refuse" })
      yield* Console.log(
        `wrote ${output}${result.backup === undefined ? "" : ` (previous file kept as ${result.backup})`}`,
      )
    }),
).pipe(Command.withDescription("Convert a PyTorch checkpoint to .safetensors, keeping every tensor's dtype."))

/** `danlu model`: step 2 of the guide, the base model (底模). */
export const model = Command.make("model").pipe(
  Command.withDescription("Base models and LoRA files: inspect them, convert .ckpt to .safetensors."),
  Command.withSubcommands([inspect, convert]),
)
