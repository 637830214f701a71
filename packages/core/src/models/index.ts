export type { ModelBuildOptions } from "./buildOptions.js"
export {
  clipSkipHidden,
  gatherPositions,
  type SdxlTextConditioning,
  sd1TextConditioning,
  sd2TextConditioning,
  sdxlTextConditioning,
  textEncoderPrefixes,
} from "./clip/conditioning.js"
export {
  type ClipTextConfig,
  clipL,
  openClipBigG,
  openClipH,
  tinyClipL,
  tinyOpenClip,
} from "./clip/config.js"
export {
  type TextTransformerOptions,
  type TextTransformerOutput,
  textTransformer,
} from "./clip/textTransformer.js"
export {
  headsFor,
  sd2UNet,
  sd15UNet,
  sdxlUNet,
  tinySd1UNet,
  tinySd2UNet,
  tinySdxlUNet,
  type UNetConfig,
} from "./unet/config.js"
export { sdxlVector } from "./unet/sdxlConditioning.js"
export { type UNetInputs, unet, unetPrefix } from "./unet/unet.js"
export { type LatentPosterior, vaeDecode, vaeEncode, vaeLatent } from "./vae/autoencoder.js"
export { sdVae, sdxlVae, tinyVae, type VaeConfig, vaePrefix } from "./vae/config.js"
