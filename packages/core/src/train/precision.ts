import type { TrainConfig } from "./config.js"

/**
 * The dtype kohya's `mixed_precision` holds the frozen base weights in (its `weight_dtype`), undefined for
 * f32. Each weight is cast to f32 where the model reads it.
 */
export const baseWeightStorage = (
  mixedPrecision: TrainConfig["mixedPrecision"],
): "f16" | "bf16" | undefined =>
  mixedPrecision === "fp16" ? "f16" : mixedPrecision === "bf16" ? "bf16" : undefined

/**
 * The dtype kohya's `full_fp16` / `full_bf16` hold the trained weights and their optimizer moments in,
 * undefined (f32) without them. They are read as f32, the step computes in f32, and each new value is
 * rounded to this dtype once when it is written (ADR 0011 §8).
 */
export const trainedWeightStorage = (
  config: Pick<TrainConfig, "fullFp16" | "fullBf16">,
): "f16" | "bf16" | undefined => (config.fullFp16 ? "f16" : config.fullBf16 ? "bf16" : undefined)

/** Why `full_fp16` / `full_bf16` cannot run with this `mixed_precision`, as kohya asserts it; undefined when they can. */
export const fullHalfMismatch = (
  config: Pick<TrainConfig, "fullFp16" | "fullBf16" | "mixedPrecision">,
): string | undefined =>
  config.fullFp16 && config.mixedPrecision !== "fp16"
    ? `full_fp16 requires mixed_precision = "fp16" (it is "${config.mixedPrecision}")`
    : config.fullBf16 && config.mixedPrecision !== "bf16"
      ? `full_bf16 requires mixed_precision = "bf16" (it is "${config.mixedPrecision}")`
      : undefined
