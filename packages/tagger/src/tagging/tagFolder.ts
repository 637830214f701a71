import { access } from "node:fs/promises"
import { basename } from "node:path"
import { listImages, Progress, progressCounter, scanTrainingFolder } from "@danlu/dataset"
import { Duration, Effect, Result, Stream } from "effect"
import { readCaptionFile, saveCaptionBackup, writeCaptionFile } from "../captions/captionBackup.js"
import { captionPathFor } from "../captions/captionPath.js"
import { type ExistingCaptions, mergeCaption } from "../captions/mergeCaption.js"
import {
  type ExecutionProviderUnavailable,
  TaggerFileError,
  TaggerInputError,
  type TaggerModelError,
} from "../errors.js"
import { readWd14Input } from "../preprocess/readWd14Input.js"
import { selectTags, type TagSelection } from "../tags/selectTags.js"
import { openWd14Tagger, type Wd14TaggerOptions } from "./wd14Tagger.js"

export interface TagFolderOptions extends Wd14TaggerOptions, TagSelection {
  readonly folder: string
  /**
   * Tag images in sub-folders too. Default false: only the folder itself, like kohya's tagger, or, for a
   * training root (no images of its own, `<repeats>_<name>` concept folders inside), each concept folder.
   */
  readonly recursive?: boolean
  /** What to do with images that already have a caption. Default `skip`. */
  readonly existing?: ExistingCaptions
  /** Images per inference; models exported with a fixed batch (WD1.4 v2) use their own. Default 4. */
  readonly batchSize?: number
  /** Default `.txt`. */
  readonly captionExtension?: string
  /** Images decoded and resized at once while the model runs. Default 2. */
  readonly decodeConcurrency?: number
}

export interface TagFolderReport {
  readonly images: number
  /** Captions written (new, appended to or overwritten). */
  readonly written: number
  /** Images left alone because they already had a caption (`existing: "skip"`). */
  readonly skipped: number
  /** Images that could not be read or would overwrite another image's caption; the others are tagged anyway. */
  readonly failed: ReadonlyArray<{ readonly image: string; readonly message: string }>
  /** Images per inference actually used. */
  readonly batchSize: number
  /** Time spent decoding and resizing, summed over images. */
  readonly preprocessSeconds: number
  /** Time spent in the model. */
  readonly inferenceSeconds: number
  /** Whether a backup of the previous captions was written (`danlu tags undo` restores it). */
  readonly backedUp: boolean
}

interface Job {
  readonly image: string
  readonly caption: string
  readonly existing: string | null
}

const checkOptions = (options: TagFolderOptions): TaggerInputError | undefined => {
  const share = (name: string, value: number | undefined) =>
    value === undefined || (value >= 0 && value <= 1)
      ? undefined
      : `${name} must be between 0 and 1, got ${value}`
  const count = (name: string, value: number | undefined, min: number) =>
    value === undefined || (Number.isInteger(value) && value >= min)
      ? undefined
      : `${name} must be a whole number ≥ ${min}, got ${value}`
  const problem =
    share("the general threshold", options.generalThreshold) ??
    share("the character threshold", options.characterThreshold) ??
    count("the batch size", options.batchSize, 1) ??
    count("the maximum tag count", options.maxTags, 0)
  return problem === undefined ? undefined : new TaggerInputError({ message: problem })
}

/**
 * The images a run tags. Not recursive, a folder without images of its own that holds kohya concept
 * folders (`10_cat`) is a training root: each concept folder's own images are tagged, as kohya trains
 * them, the way `tags list` reads such a root.
 */
const imagesToTag = (folder: string, recursive: boolean) =>
  Effect.gen(function* () {
    const own = yield* listImages(folder, { recursive })
    if (recursive || own.length > 0) return own
    const root = yield* scanTrainingFolder(folder)
    return root.concepts.flatMap((concept) => concept.images)
  })

const describeCommand = (options: TagFolderOptions) => `tag ${options.folder} (${options.existing ?? "skip"})`

/**
 * Auto-tags every image of a folder and writes kohya-style `.txt` captions. Captions are written one by
 * one, atomically, after a backup of all captions the run may touch: a run stopped at any point leaves
 * each caption either as it was or as the new one, and `undoCaptionChanges` brings all of them back.
 */
export const tagFolder = (
  options: TagFolderOptions,
): Effect.Effect<
  TagFolderReport,
  TaggerInputError | TaggerModelError | ExecutionProviderUnavailable | TaggerFileError
> =>
  Effect.scoped(
    Effect.gen(function* () {
      const mode = options.existing ?? "skip"
      const invalid = checkOptions(options)
      if (invalid !== undefined) return yield* invalid
      yield* Effect.tryPromise({
        try: () => access(options.folder),
        catch: () => new TaggerInputError({ message: `folder not found: ${options.folder}` }),
      })
      const tagger = yield* openWd14Tagger(options)
      const images = yield* imagesToTag(options.folder, options.recursive === true).pipe(
        Effect.mapError((error) => new TaggerFileError({ path: options.folder, message: error.message })),
      )
      if (images.length === 0) {
        return yield* new TaggerInputError({
          message: `no images (PNG, JPG, WebP) in ${options.folder}${options.recursive === true ? "" : " or its <repeats>_<name> concept folders; other sub-folders are searched only when recursive"}`,
          ...(options.recursive === true ? {} : { option: "recursive" as const }),
        })
      }

      const jobs: Array<Job> = []
      const imageOfCaption = new Map<string, string>()
      const clashes: Array<{ image: string; message: string }> = []
      for (const image of images) {
        const caption = captionPathFor(image, options.captionExtension)
        const first = imageOfCaption.get(caption)
        if (first !== undefined) {
          clashes.push({
            image,
            message: `${image} and ${first} would share the caption ${caption}; rename one`,
          })
          continue
        }
        imageOfCaption.set(caption, image)
        const existing = yield* readCaptionFile(caption)
        if (existing !== null && mode === "skip") continue
        jobs.push({ image, caption, existing })
      }

      const batchSize = tagger.model.fixedBatch ?? options.batchSize ?? 4
      const report = {
        images: images.length,
        written: 0,
        skipped: images.length - jobs.length - clashes.length,
        failed: clashes,
        batchSize,
        preprocessSeconds: 0,
        inferenceSeconds: 0,
        backedUp: false,
      }
      if (jobs.length === 0) return report

      yield* saveCaptionBackup(
        options.folder,
        describeCommand(options),
        jobs.map((job) => job.caption),
      )
      report.backedUp = true

      // Each image tagged (or failed) is one unit of the "tag" task.
      const progress = progressCounter(yield* Progress, { task: "tag", unit: "image", total: jobs.length })
      progress.start()
      const finish = (job: Job) => progress.advance(basename(job.image), { image: job.image })

      yield* Stream.fromIterable(jobs).pipe(
        Stream.mapEffect(
          (job) =>
            readWd14Input(job.image, tagger.model.size).pipe(
              Effect.timed,
              Effect.result,
              Effect.map((result) => ({ job, result })),
            ),
          { concurrency: Math.max(1, options.decodeConcurrency ?? 2) },
        ),
        Stream.grouped(batchSize),
        Stream.runForEach((batch) =>
          Effect.gen(function* () {
            const ready: Array<{ job: Job; input: Float32Array }> = []
            for (const { job, result } of batch) {
              if (Result.isSuccess(result)) {
                const [duration, input] = result.success
                report.preprocessSeconds += Duration.toSeconds(duration)
                ready.push({ job, input })
              } else {
                report.failed.push({ image: job.image, message: result.failure.message })
                finish(job)
              }
            }
            if (ready.length === 0) return
            const [duration, predictions] = yield* Effect.timed(
              tagger.predict(ready.map((item) => item.input)),
            )
            report.inferenceSeconds += Duration.toSeconds(duration)
            for (let i = 0; i < ready.length; i++) {
              const { job } = ready[i]!
              const tags = selectTags(predictions[i]!, tagger.labels, options)
              const caption = mergeCaption(job.existing, tags, options.triggerWords ?? [], mode)
              yield* writeCaptionFile(job.caption, caption)
              report.written++
              finish(job)
            }
          }),
        ),
      )
      return report
    }),
  )
