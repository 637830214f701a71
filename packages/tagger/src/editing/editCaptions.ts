import { Effect } from "effect"
import { saveCaptionBackup, writeCaptionFile } from "../captions/captionBackup.js"
import { formatCaption, parseCaption } from "../captions/captionText.js"
import type { TaggerFileError, TaggerInputError } from "../errors.js"
import { type CaptionedImage, type CaptionFolderOptions, readCaptionedImages } from "./captionedImages.js"

/** An edit that may depend on the image, e.g. on its concept. */
export type CaptionEdit = (tags: ReadonlyArray<string>, image: CaptionedImage) => Array<string>

export interface CaptionChange {
  readonly image: CaptionedImage
  readonly before: ReadonlyArray<string>
  readonly after: ReadonlyArray<string>
}

export interface EditReport {
  readonly changes: ReadonlyArray<CaptionChange>
  /** Captions read. */
  readonly captions: number
  /** Images without a caption, which edits leave alone. */
  readonly uncaptioned: number
  /** True when nothing was written. */
  readonly dryRun: boolean
}

export interface EditCaptionsOptions extends CaptionFolderOptions {
  /** Show what would change without writing. */
  readonly dryRun?: boolean
}

/** `-pink hair, +blue hair`; `duplicates removed` or the new order when no tag text changed. */
export const describeChange = (change: CaptionChange): string => {
  const before = new Set(change.before)
  const after = new Set(change.after)
  const removed = [...before].filter((tag) => !after.has(tag)).map((tag) => `-${tag}`)
  const added = [...after].filter((tag) => !before.has(tag)).map((tag) => `+${tag}`)
  const parts = [...removed, ...added]
  if (parts.length > 0) return parts.join(", ")
  return change.after.length < change.before.length
    ? "duplicates removed"
    : `reordered: ${formatCaption(change.after)}`
}

const applyEdit = (images: ReadonlyArray<CaptionedImage>, edit: CaptionEdit): Array<CaptionChange> =>
  images.flatMap((image) => {
    if (image.text === null) return []
    const before = parseCaption(image.text)
    const after = edit(before, image)
    return formatCaption(after) === formatCaption(before) ? [] : [{ image, before, after }]
  })

/** Writes a set of changes: one backup of every caption about to change, then each caption atomically. */
export const writeCaptionChanges = (
  folder: string,
  command: string,
  changes: ReadonlyArray<CaptionChange>,
): Effect.Effect<void, TaggerFileError> =>
  Effect.gen(function* () {
    if (changes.length === 0) return
    yield* saveCaptionBackup(
      folder,
      command,
      changes.map((change) => change.image.caption),
    )
    for (const change of changes) yield* writeCaptionFile(change.image.caption, formatCaption(change.after))
  })

/**
 * Applies `edit` to every caption of a folder. Unless `dryRun`, the captions that change are backed up
 * first (one level, restored by `undoCaptionChanges`) and then rewritten.
 */
export const editCaptions = (
  folder: string,
  command: string,
  edit: CaptionEdit,
  options: EditCaptionsOptions = {},
): Effect.Effect<EditReport, TaggerInputError | TaggerFileError> =>
  Effect.gen(function* () {
    const images = yield* readCaptionedImages(folder, options)
    const changes = applyEdit(images, edit)
    const dryRun = options.dryRun === true
    if (!dryRun) yield* writeCaptionChanges(folder, command, changes)
    const captions = images.filter((image) => image.text !== null).length
    return { changes, captions, uncaptioned: images.length - captions, dryRun }
  })
