export { DatasetError } from "./errors.js"
export {
  decodeImageRgb,
  decodeImageRgba,
  type ImageSource,
  openImage,
  type RawImage,
  type Rgb,
  type RgbaImage,
  type RgbImage,
  readImageRgb,
  readImageRgba,
  white,
} from "./image/decode.js"
export { isTrainableImage, otherImageExtensions, trainableExtensions } from "./image/formats.js"
export { type FolderListing, type ListImagesOptions, listImages, scanFolder } from "./image/listImages.js"
export * as promise from "./promise.js"
