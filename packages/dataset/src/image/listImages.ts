import type { Dirent } from "node:fs"
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { DatasetError, describeCause } from "../errors.js"
import { isOtherImage, isTrainableImage } from "./formats.js"

export interface ListImagesOptions {
  /** Walk sub-folders too (default false: only the folder itself, as kohya does for a concept folder). */
  readonly recursive?: boolean
}

/** Everything found in a folder, sorted by path: trainable images, other images, and the rest. */
export interface FolderListing {
  readonly images: ReadonlyArray<string>
  readonly unsupportedImages: ReadonlyArray<string>
  readonly otherFiles: ReadonlyArray<string>
}

const byPath = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const readEntries = (dir: string): Effect.Effect<ReadonlyArray<Dirent>, DatasetError> =>
  Effect.tryPromise({
    try: () => readdir(dir, { withFileTypes: true }),
    catch: (cause) =>
      new DatasetError({ message: `cannot read folder ${dir}: ${describeCause(cause)}`, path: dir }),
  })

/**
 * Lists a folder's files by kind. Hidden files and folders (names starting with ".") are ignored, as
 * are symbolic links to folders, so a walk cannot loop.
 */
export const scanFolder = (
  dir: string,
  options: ListImagesOptions = {},
): Effect.Effect<FolderListing, DatasetError> =>
  Effect.gen(function* () {
    const images: Array<string> = []
    const unsupportedImages: Array<string> = []
    const otherFiles: Array<string> = []
    const pending = [dir]
    while (pending.length > 0) {
      const current = pending.pop()!
      for (const entry of yield* readEntries(current)) {
        if (entry.name.startsWith(".")) continue
        const path = join(current, entry.name)
        if (entry.isDirectory()) {
          if (options.recursive === true) pending.push(path)
        } else if (entry.isFile()) {
          if (isTrainableImage(path)) images.push(path)
          else if (isOtherImage(path)) unsupportedImages.push(path)
          else otherFiles.push(path)
        }
      }
    }
    return {
      images: images.sort(byPath),
      unsupportedImages: unsupportedImages.sort(byPath),
      otherFiles: otherFiles.sort(byPath),
    }
  })

/** The PNG/JPG/WebP files of a folder (by extension; decoding is checked later), sorted by path. */
export const listImages = (
  dir: string,
  options: ListImagesOptions = {},
): Effect.Effect<ReadonlyArray<string>, DatasetError> =>
  Effect.map(scanFolder(dir, options), (listing) => listing.images)
