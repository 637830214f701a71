import { LoraNetwork } from "../lora/network.js"
import type { SdArchitecture } from "./architecture.js"
import type { TrainConfig } from "./config.js"
import { trainedWeightStorage } from "./precision.js"

/**
 * The LoRA (or LoCon) network a kohya config trains on a model: rank and alpha, `conv_dim`/`conv_alpha`,
 * the parts trained, the module names sd-scripts writes for the family (SDXL's are the ldm names), and the
 * half dtype `full_fp16` / `full_bf16` hold its weights in.
 */
export const trainedNetwork = (architecture: SdArchitecture, config: TrainConfig): LoraNetwork => {
  const storage = trainedWeightStorage(config)
  return LoraNetwork.create({
    rank: config.networkDim,
    alpha: config.networkAlpha,
    convRank: config.networkArgs.convDim,
    convAlpha: config.networkArgs.convAlpha,
    unetNaming: architecture.family === "sdxl" ? "ldm" : "diffusers",
    components: config.networkTrainUnetOnly
      ? ["unet"]
      : config.networkTrainTextEncoderOnly
        ? ["te", "te1", "te2"]
        : ["unet", "te", "te1", "te2"],
    ...(storage === undefined ? {} : { storage }),
  })
}
