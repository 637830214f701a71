import type { SdArchitecture, TrainConfig } from "@danlu/core"

/** `modelspec.architecture` of a full checkpoint (sd-scripts' `sai_model_spec`, no `/lora` suffix). */
const modelspecArchitecture = (architecture: SdArchitecture): string =>
  architecture.family === "sdxl"
    ? "stable-diffusion-xl-v1-base"
    : architecture.family === "sd2"
      ? `stable-diffusion-v2-${architecture.prediction === "v" ? "768-v" : "512"}`
      : "stable-diffusion-v1"

/**
 * SAI's `modelspec.*` keys as sd-scripts writes them into a fine-tuned checkpoint (`get_sai_model_spec`
 * with `is_stable_diffusion_ckpt`): architecture, implementation, title, resolution, date, prediction type,
 * the clip skip as `modelspec.encoder_layer`, and the user's author, description, license and tags when given.
 */
export const checkpointModelspec = (
  config: TrainConfig,
  architecture: SdArchitecture,
  title: string,
  date: Date,
): Record<string, string> => ({
  "modelspec.sai_model_spec": "1.0.0",
  "modelspec.architecture": modelspecArchitecture(architecture),
  // A Stable Diffusion checkpoint is Stability AI's layout whatever the family (sd-scripts' `build_metadata`).
  "modelspec.implementation": "https://github.com/Stability-AI/generative-models",
  "modelspec.title": config.metadataTitle ?? title,
  "modelspec.resolution": `${config.resolution.width}x${config.resolution.height}`,
  "modelspec.date": date.toISOString(),
  "modelspec.prediction_type": architecture.prediction,
  ...(config.clipSkip === undefined ? {} : { "modelspec.encoder_layer": String(config.clipSkip) }),
  ...(config.metadataAuthor === undefined ? {} : { "modelspec.author": config.metadataAuthor }),
  ...(config.metadataDescription === undefined
    ? {}
    : { "modelspec.description": config.metadataDescription }),
  ...(config.metadataLicense === undefined ? {} : { "modelspec.license": config.metadataLicense }),
  ...(config.metadataTags === undefined ? {} : { "modelspec.tags": config.metadataTags }),
})
