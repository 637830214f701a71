/** The model families danlu tells apart. LoRAs only work on the family they were trained for. */
export type BaseFamily = "sd1" | "sd2" | "sdxl" | "sdxl-refiner"

/** What the model outputs. "unknown" when neither the file nor a reliable heuristic says. */
export type Prediction = "epsilon" | "v" | "unknown"

export const familyLabel: Readonly<Record<BaseFamily, string>> = {
  sd1: "SD 1.x",
  sd2: "SD 2.x",
  sdxl: "SDXL",
  "sdxl-refiner": "SDXL refiner",
}

/** kohya's `ss_base_model_version`: `sd_v1`, `sd_v2`, `sd_v2_v`, `sdxl_base_v1-0`. */
export const familyFromKohyaVersion = (
  value: string,
): { family: BaseFamily; prediction: Prediction } | undefined => {
  if (value.startsWith("sdxl_refiner")) return { family: "sdxl-refiner", prediction: "epsilon" }
  if (value.startsWith("sdxl")) return { family: "sdxl", prediction: "epsilon" }
  if (value.startsWith("sd_v2")) return { family: "sd2", prediction: value.endsWith("_v") ? "v" : "epsilon" }
  if (value.startsWith("sd_v1")) return { family: "sd1", prediction: "epsilon" }
  return undefined
}

/** SAI modelspec `modelspec.architecture`, e.g. `stable-diffusion-v2-768-v/lora`, `stable-diffusion-xl-v1-base`. */
export const familyFromModelspec = (
  value: string,
): { family: BaseFamily; prediction: Prediction } | undefined => {
  const base = value.split("/")[0]!
  if (base.startsWith("stable-diffusion-xl-v1-refiner"))
    return { family: "sdxl-refiner", prediction: "epsilon" }
  if (base.startsWith("stable-diffusion-xl")) return { family: "sdxl", prediction: "epsilon" }
  if (base.startsWith("stable-diffusion-v2"))
    return { family: "sd2", prediction: base.endsWith("-v") ? "v" : "epsilon" }
  if (base.startsWith("stable-diffusion-v1")) return { family: "sd1", prediction: "epsilon" }
  return undefined
}

/** The family whose UNet cross-attends to this context width (768 CLIP-L, 1024 OpenCLIP-H, 2048 L+bigG, 1280 bigG). */
export const familyFromContextDim = (contextDim: number): BaseFamily | undefined =>
  contextDim === 768
    ? "sd1"
    : contextDim === 1024
      ? "sd2"
      : contextDim === 2048
        ? "sdxl"
        : contextDim === 1280
          ? "sdxl-refiner"
          : undefined
