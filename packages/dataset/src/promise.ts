import { Effect } from "effect"
import { type CheckOptions, checkDataset as checkDatasetEffect } from "./check/checkDataset.js"
import {
  type ImageSource,
  type Rgb,
  readImageRgba as readImageRgbaEffect,
  readImageRgb as readImageRgbEffect,
} from "./image/decode.js"
import {
  type ListImagesOptions,
  listImages as listImagesEffect,
  scanFolder as scanFolderEffect,
} from "./image/listImages.js"
import { type PrepareOptions, prepareDataset as prepareDatasetEffect } from "./prepare/prepareDataset.js"

// Promise forms of the package's Effect functions, for callers without Effect. Each rejects with the
// same `DatasetError` the Effect would fail with.

export const listImages = (dir: string, options: ListImagesOptions = {}) =>
  Effect.runPromise(listImagesEffect(dir, options))

export const scanFolder = (dir: string, options: ListImagesOptions = {}) =>
  Effect.runPromise(scanFolderEffect(dir, options))

export const readImageRgb = (source: ImageSource, options: { readonly background?: Rgb } = {}) =>
  Effect.runPromise(readImageRgbEffect(source, options))

export const readImageRgba = (source: ImageSource) => Effect.runPromise(readImageRgbaEffect(source))

export const checkDataset = (root: string, options: CheckOptions = {}) =>
  Effect.runPromise(checkDatasetEffect(root, options))

export const prepareDataset = (root: string, options: PrepareOptions) =>
  Effect.runPromise(prepareDatasetEffect(root, options))
