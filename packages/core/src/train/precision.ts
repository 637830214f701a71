import type { TrainConfig } from "./config.js"

/**
 * The dtype kohya's `mixed_precision` holds the frozen base weights in (its `weight_dtype`), undefined for
 * f32. Each weight is cast to f32 where the model reads it; the LoRA weights, gradients and optimizer
 * moments stay f32.
 */
export const baseWeightStorage = (
  mixedPrecision: TrainConfig["mixedPrecision"],
): "f16" | "bf16" | undefined =>
  mixedPrecision === "fp16" ? "f16" : mixedPrecision === "bf16" ? "bf16" : undefined

/** Why kohya's `full_fp16`/`full_bf16` (the LoRA itself in half) cannot run, when one is set. */
export const fullHalfRefusal = (config: Pick<TrainConfig, "fullFp16" | "fullBf16">): string | undefined =>
  config.fullFp16 || config.fullBf16
    ? `${config.fullFp16 ? "full_fp16" : "full_bf16"} is not supported: danlu's optimizers update f32 LoRA weights; use mixed_precision alone (half base weights, f32 LoRA, kohya's default)`
    : undefined
