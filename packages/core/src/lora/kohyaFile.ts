import type { Effect } from "effect"
import type { ByteSink } from "../io/byteSource.js"
import type { CheckpointFormatError, FileAccessError } from "../io/errors.js"
import { tensorsInMemory, writeSafetensors } from "../io/safetensors.js"
import { fromHostTensor, type StoredTensor } from "../io/storedTensor.js"
import type { BaseFamily, Prediction } from "../models/detect/baseVersion.js"
import { toBF16Bits, toF16Bits } from "../tensor/halfFloat.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import { type LoraModuleWeights, loraAlphaName, loraDownName, loraUpName } from "./moduleWeights.js"

/** How a LoRA file stores its weights (kohya's `--save_precision`). */
export type LoraSaveDType = "F32" | "F16" | "BF16"

export interface KohyaMetadataOptions {
  readonly family: Exclude<BaseFamily, "sdxl-refiner">
  readonly prediction?: Exclude<Prediction, "unknown">
  readonly rank: number
  readonly alpha: number
  readonly convRank?: number | undefined
  readonly convAlpha?: number | undefined
  /** `modelspec.title` (the output name). */
  readonly title: string
  /** Training resolution, `modelspec.resolution` as `WxH`. */
  readonly resolution: readonly [number, number]
  readonly date?: Date
  /** Further `ss_*` (or other) keys, already strings: dataset dirs, tag frequency, learning rates, … */
  readonly extra?: Readonly<Record<string, string>>
}

const architecture = (family: KohyaMetadataOptions["family"], prediction: Prediction): string =>
  family === "sdxl"
    ? "stable-diffusion-xl-v1-base/lora"
    : family === "sd2"
      ? `stable-diffusion-v2-${prediction === "v" ? "768-v" : "512"}/lora`
      : "stable-diffusion-v1/lora"

/**
 * The header metadata sd-scripts writes and A1111/ComfyUI/Civitai read: the minimum `ss_*` keys
 * (`ss_network_module`, `ss_network_dim`, `ss_network_alpha`, `ss_network_args`, `ss_base_model_version`,
 * `ss_v2`) and SAI's `modelspec.*`. Every value is a string.
 */
export const kohyaMetadata = (options: KohyaMetadataOptions): Record<string, string> => {
  const prediction = options.prediction ?? "epsilon"
  const networkArgs =
    options.convRank === undefined
      ? {}
      : { conv_dim: String(options.convRank), conv_alpha: String(options.convAlpha ?? 1) }
  const version =
    options.family === "sdxl"
      ? "sdxl_base_v1-0"
      : options.family === "sd2"
        ? prediction === "v"
          ? "sd_v2_v"
          : "sd_v2"
        : "sd_v1"
  return {
    ss_network_module: "networks.lora",
    ss_network_dim: String(options.rank),
    ss_network_alpha: String(options.alpha),
    ss_network_args: JSON.stringify(networkArgs),
    ss_base_model_version: version,
    ss_v2: options.family === "sd2" ? "True" : "False",
    ...options.extra,
    "modelspec.sai_model_spec": "1.0.0",
    "modelspec.architecture": architecture(options.family, prediction),
    "modelspec.implementation":
      options.family === "sdxl" ? "https://github.com/Stability-AI/generative-models" : "diffusers",
    "modelspec.title": options.title,
    "modelspec.resolution": `${options.resolution[0]}x${options.resolution[1]}`,
    "modelspec.date": (options.date ?? new Date()).toISOString(),
    "modelspec.prediction_type": prediction,
  }
}

const stored = (tensor: HostTensor<"f32">, dtype: LoraSaveDType): StoredTensor => {
  if (dtype === "F32") return fromHostTensor(tensor)
  const bits = Uint16Array.from(tensor.data, dtype === "F16" ? toF16Bits : toBF16Bits)
  return fromHostTensor({ dtype: dtype === "F16" ? "f16" : "bf16", shape: tensor.shape, data: bits })
}

/** The tensors of a kohya LoRA file: `<name>.lora_down.weight`, `.lora_up.weight` and the 0-d `.alpha`. */
export const kohyaTensors = (
  modules: ReadonlyArray<LoraModuleWeights>,
  dtype: LoraSaveDType = "F16",
): Record<string, StoredTensor> => {
  const tensors: Record<string, StoredTensor> = {}
  for (const lora of modules) {
    tensors[loraDownName(lora.name)] = stored(lora.down, dtype)
    tensors[loraUpName(lora.name)] = stored(lora.up, dtype)
    tensors[loraAlphaName(lora.name)] = stored(
      { dtype: "f32", shape: [], data: Float32Array.of(lora.alpha) },
      dtype,
    )
    if (lora.mid) tensors[`${lora.name}.lora_mid.weight`] = stored(lora.mid, dtype)
  }
  return tensors
}

/** Writes a kohya-format LoRA safetensors file to a sink (use the platform's atomic writer for files). */
export const writeKohyaLora = (
  sink: ByteSink,
  modules: ReadonlyArray<LoraModuleWeights>,
  metadata: Readonly<Record<string, string>>,
  dtype: LoraSaveDType = "F16",
): Effect.Effect<void, FileAccessError | CheckpointFormatError> =>
  writeSafetensors(sink, tensorsInMemory(kohyaTensors(modules, dtype), metadata))
