import { Effect } from "effect"
import {
  type ListImagesOptions,
  listImages as listImagesEffect,
  scanFolder as scanFolderEffect,
} from "./image/listImages.js"

/** Promise form of {@link listImagesEffect}; rejects with a `DatasetError`. */
export const listImages = (dir: string, options: ListImagesOptions = {}) =>
  Effect.runPromise(listImagesEffect(dir, options))

/** Promise form of {@link scanFolderEffect}; rejects with a `DatasetError`. */
export const scanFolder = (dir: string, options: ListImagesOptions = {}) =>
  Effect.runPromise(scanFolderEffect(dir, options))
