import {
  type ClipTokenizer,
  conditioningInputNames,
  conditioningValues,
  type HostTensor,
  hostTensor,
  type SdArchitecture,
  stepInputNames,
  type TrainBatch,
} from "@danlu/core"
import { cachedTextInputs, type TextEncoderCache } from "./textEncoderCache.js"

/**
 * The data inputs of a step or validation program for one batch: latents `[B, C, h, w]`, the loss
 * weights, the token ids (and for SDXL the EOS positions and each sample's size conditioning), and with
 * `masked` the `loss_mask` `[B, 1, h, w]` (1 for samples without a mask). With `textCache` the
 * captions' cached text-encoder outputs replace the token ids.
 */
export const batchInputs = (
  architecture: SdArchitecture,
  tokenizer: ClipTokenizer,
  masked: boolean,
  batch: TrainBatch,
  textCache?: TextEncoderCache,
): Record<string, HostTensor> => {
  const captions = batch.samples.map((s) => s.caption)
  const text = conditioningValues(
    tokenizer,
    architecture,
    captions,
    batch.samples.map((s) => s.size),
  )
  const [c, h, w] = batch.latentShape
  const n = batch.samples.length
  const latents = new Float32Array(n * c * h * w)
  for (const [i, s] of batch.samples.entries()) latents.set(s.latent, i * c * h * w)
  const masks = new Float32Array(masked ? n * h * w : 0).fill(1)
  if (masked) for (const [i, s] of batch.samples.entries()) if (s.mask) masks.set(s.mask, i * h * w)
  return {
    ...(masked ? { [stepInputNames.lossMask]: hostTensor("f32", [n, 1, h, w], masks) } : {}),
    latents: hostTensor("f32", [n, c, h, w], latents),
    [stepInputNames.lossWeights]: hostTensor(
      "f32",
      [n],
      Float32Array.from(batch.samples, (s) => s.lossWeight),
    ),
    ...(textCache === undefined
      ? text
      : {
          ...cachedTextInputs(textCache, captions),
          ...(architecture.family === "sdxl"
            ? { [conditioningInputNames.sizes]: text[conditioningInputNames.sizes]! }
            : {}),
        }),
  }
}
