import { access } from "node:fs/promises"
import { basename, dirname, relative } from "node:path"
import { listImages } from "@danlu/dataset"
import { Effect } from "effect"
import { readCaptionFile } from "../captions/captionBackup.js"
import { captionPathFor } from "../captions/captionPath.js"
import { TaggerFileError, TaggerInputError } from "../errors.js"

export interface CaptionFolderOptions {
  /** Include sub-folders (each one a concept, e.g. kohya's `10_cat`). Default true. */
  readonly recursive?: boolean
  /** Default `.txt`. */
  readonly captionExtension?: string
}

export interface CaptionedImage {
  readonly image: string
  readonly caption: string
  /** The image's folder relative to the dataset folder (`10_cat`), or the dataset folder's own name. */
  readonly concept: string
  /** The caption's text, or null when the image has none. */
  readonly text: string | null
}

/** Every image of a dataset folder with its caption and concept, sorted by path. */
export const readCaptionedImages = (
  folder: string,
  options: CaptionFolderOptions = {},
): Effect.Effect<ReadonlyArray<CaptionedImage>, TaggerInputError | TaggerFileError> =>
  Effect.gen(function* () {
    yield* Effect.tryPromise({
      try: () => access(folder),
      catch: () => new TaggerInputError({ message: `folder not found: ${folder}` }),
    })
    const images = yield* listImages(folder, { recursive: options.recursive !== false }).pipe(
      Effect.mapError((error) => new TaggerFileError({ path: folder, message: error.message })),
    )
    const ownName = basename(folder) || folder
    return yield* Effect.forEach(images, (image) =>
      Effect.gen(function* () {
        const caption = captionPathFor(image, options.captionExtension)
        const concept = relative(folder, dirname(image)) || ownName
        return { image, caption, concept, text: yield* readCaptionFile(caption) }
      }),
    )
  })
