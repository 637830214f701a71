import { type ProgressEvent, withProgress } from "@danlu/dataset"
import { Effect, Exit, Scope } from "effect"
import { undoCaptionChanges } from "./captions/captionBackup.js"
import { type CaptionFolderOptions, readCaptionedImages } from "./editing/captionedImages.js"
import {
  type CaptionEdit,
  type EditCaptionsOptions,
  editCaptions as editCaptionsEffect,
} from "./editing/editCaptions.js"
import { type PruneOptions, pruneConceptTags as pruneEffect } from "./editing/pruneConceptTags.js"
import { tagFrequency as tagFrequencyEffect } from "./editing/tagFrequency.js"
import { readWd14Input } from "./preprocess/readWd14Input.js"
import { type TagFolderOptions, tagFolder as tagFolderEffect } from "./tagging/tagFolder.js"
import { openWd14Tagger, type Wd14TaggerOptions, type Wd14TaggerShape } from "./tagging/wd14Tagger.js"
import { selectTags, type TagSelection } from "./tags/selectTags.js"

/**
 * The tagger for callers without Effect. Every function rejects with the package's tagged errors
 * (`TaggerInputError`, `TaggerModelError`, …), each with a one-line `message`.
 */

export interface TagProgress {
  readonly done: number
  readonly total: number
  /** The image just finished. */
  readonly image: string
}

/**
 * Auto-tags a folder; see {@link tagFolderEffect}. `onProgress` hears each image done (the Effect form
 * reports to the `Progress` service instead).
 */
export const tagFolder = (
  options: TagFolderOptions & { readonly onProgress?: (progress: TagProgress) => void },
) =>
  Effect.runPromise(
    tagFolderEffect(options).pipe(
      withProgress((event: ProgressEvent) => {
        if (event.type === "progress" && event.task === "tag" && event.done > 0)
          options.onProgress?.({
            done: event.done,
            total: event.total,
            image: String(event.fields?.image ?? ""),
          })
      }),
    ),
  )

export interface PromiseTagger {
  readonly size: number
  readonly provider: string
  /** The caption tags of one image file. */
  readonly tagImage: (path: string) => Promise<Array<string>>
  /** The model's raw probabilities for one image file, in CSV row order. */
  readonly predict: (path: string) => Promise<Float32Array>
  /** Releases the ONNX Runtime session. */
  readonly close: () => Promise<void>
}

/** Opens a model and its tag list for tagging single images; call `close()` when done. */
export const openTagger = async (
  options: Wd14TaggerOptions & { readonly selection?: TagSelection },
): Promise<PromiseTagger> => {
  const scope = Effect.runSync(Scope.make())
  let tagger: Wd14TaggerShape
  try {
    tagger = await Effect.runPromise(Scope.provide(scope)(openWd14Tagger(options)))
  } catch (error) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  }
  const predict = (path: string) =>
    Effect.runPromise(
      readWd14Input(path, tagger.model.size).pipe(
        Effect.flatMap((input) => tagger.predict([input])),
        Effect.map((outputs) => outputs[0]!),
      ),
    )
  return {
    size: tagger.model.size,
    provider: tagger.model.provider,
    predict,
    tagImage: async (path) => selectTags(await predict(path), tagger.labels, options.selection),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}

/** Every image of a folder with its caption and concept. */
export const readCaptions = (folder: string, options?: CaptionFolderOptions) =>
  Effect.runPromise(readCaptionedImages(folder, options))

/** Tag frequencies per concept and in total. */
export const tagFrequency = (folder: string, options?: CaptionFolderOptions) =>
  Effect.runPromise(tagFrequencyEffect(folder, options))

/** Applies an edit (`addTags`, `removeTags`, `replaceTag`, `moveToFront`, `dedupe`) to every caption. */
export const editCaptions = (
  folder: string,
  command: string,
  edit: CaptionEdit,
  options?: EditCaptionsOptions,
) => Effect.runPromise(editCaptionsEffect(folder, command, edit, options))

/** Finds and removes a concept's inherent tags so the trigger word learns them. */
export const pruneConceptTags = (folder: string, options: PruneOptions) =>
  Effect.runPromise(pruneEffect(folder, options))

/** Restores the captions the last tagging or edit in `folder` changed. */
export const undo = (folder: string) => Effect.runPromise(undoCaptionChanges(folder))
