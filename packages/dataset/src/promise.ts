import { type ProgressEvent, withProgress } from "@danlu/core"
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

/** Hears how many images of `total` are done; the Effect forms report to the `Progress` service instead. */
export type CountProgress = (done: number, total: number) => void

const counting = (task: string, onProgress: CountProgress | undefined) =>
  withProgress((event: ProgressEvent) => {
    if (event.type === "progress" && event.task === task) onProgress?.(event.done, event.total)
  })

export const checkDataset = (
  root: string,
  options: CheckOptions & { readonly onProgress?: CountProgress } = {},
) => Effect.runPromise(checkDatasetEffect(root, options).pipe(counting("check", options.onProgress)))

export const prepareDataset = (
  root: string,
  options: PrepareOptions & { readonly onProgress?: CountProgress },
) => Effect.runPromise(prepareDatasetEffect(root, options).pipe(counting("prepare", options.onProgress)))
