import type { DType } from "../tensor/dtype.js"
import type { TrainConfig } from "./config.js"

/** Where a training run keeps which numbers. */
export interface TrainingPrecision {
  /** dtype the frozen base weights are held in (kohya's `weight_dtype`); undefined: f32. Math stays f32. */
  readonly storage: "f16" | "bf16" | undefined
  /** dtype of the trained LoRA weights, their gradients and optimizer moments (half only with full_fp16/full_bf16). */
  readonly network: DType
}

/**
 * kohya's `mixed_precision`, `full_fp16` and `full_bf16` as dtypes: the frozen weights in the half type, each
 * cast to f32 where it is read; the trained weights stay f32 unless a `full_*` option puts them in half too.
 */
export const trainingPrecision = (
  config: Pick<TrainConfig, "mixedPrecision" | "fullFp16" | "fullBf16">,
): TrainingPrecision => {
  const storage =
    config.mixedPrecision === "fp16" ? "f16" : config.mixedPrecision === "bf16" ? "bf16" : undefined
  return {
    storage,
    network: config.fullFp16 ? "f16" : config.fullBf16 ? "bf16" : "f32",
  }
}
