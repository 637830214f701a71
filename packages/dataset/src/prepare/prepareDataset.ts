import { readdir, readFile, realpath, rm } from "node:fs/promises"
import { basename, extname, join, relative, resolve, sep } from "node:path"
import { Progress, progressCounter } from "@danlu/core"
import { Effect } from "effect"
import type { Size } from "../buckets/bucketResolutions.js"
import { defaultSizing, formatSize, makeAssigner, type Sizing } from "../buckets/sizing.js"
import { readCaption } from "../captions/readCaption.js"
import type { SkippedFile } from "../check/checkReport.js"
import { DatasetError, describeCause, describeImageFailure } from "../errors.js"
import { type Concept, scanTrainingFolder } from "../folders/trainingFolder.js"
import { type Rgb, white } from "../image/decode.js"
import { temporarySuffix, writeFileAtomic } from "../io/atomicWrite.js"
import { type OutputFormat, prepareImage } from "./prepareImage.js"

export interface PrepareOptions {
  /** Where the prepared training folder goes; must lie outside the source folder. */
  readonly out: string
  readonly sizing?: Sizing
  /** Alpha is flattened onto this colour (white by default; the guide prefers white for products). */
  readonly background?: Rgb
  /** Enlarge images smaller than their target with Lanczos (they look soft); skipped otherwise. */
  readonly upscale?: boolean
  /** "same" keeps each image's own format. */
  readonly format?: OutputFormat | "same"
  readonly quality?: number
  readonly captionExtension?: string
  /**
   * Replace captions in `out` that differ from the training folder's (edited or tagged there since an
   * earlier run); each old one is kept as `<caption>.bak`. Without it such an output is refused.
   */
  readonly replaceChangedCaptions?: boolean
  /** Images processed at once (a bounded pool). */
  readonly concurrency?: number
}

/** One prepared image, as listed in the output's `danlu-dataset.json`. */
export interface PreparedEntry {
  /** Relative to the output folder. */
  readonly file: string
  readonly source: string
  readonly concept: string
  readonly repeats: number
  readonly bucket: Size
  readonly caption: boolean
}

export interface PrepareResult {
  readonly out: string
  readonly images: ReadonlyArray<PreparedEntry>
  /** Written by enlarging a smaller image (only with `upscale`). */
  readonly upscaled: ReadonlyArray<string>
  /** Not written: too small without `upscale`, or not decodable. */
  readonly skipped: ReadonlyArray<SkippedFile>
}

export const manifestName = "danlu-dataset.json"

const formatOfExtension = (path: string): OutputFormat => {
  const extension = extname(path).toLowerCase()
  return extension === ".png" ? "png" : extension === ".webp" ? "webp" : "jpeg"
}

const extensionOf: Readonly<Record<OutputFormat, string>> = { png: ".png", jpeg: ".jpg", webp: ".webp" }

const isInside = (child: string, parent: string) => child === parent || child.startsWith(parent + sep)

/** The real path of a folder that may not exist yet: its nearest existing ancestor, resolved. */
const realPathOf = async (path: string): Promise<string> => {
  try {
    return await realpath(path)
  } catch {
    const parent = resolve(path, "..")
    return parent === path ? path : join(await realPathOf(parent), basename(path))
  }
}

/**
 * The folder exists, is not empty, and has no manifest from an earlier prepare run (finished or
 * interrupted): writing into it could replace someone's own files, so prepare refuses.
 */
const holdsOtherFiles = async (out: string): Promise<boolean> => {
  let names: Array<string>
  try {
    names = await readdir(out)
  } catch {
    return false
  }
  return names.length > 0 && !names.includes(manifestName)
}

/** Removes temporary files an earlier, killed run left in the output folder. */
const removeLeftovers = async (out: string) => {
  let entries: Array<{ name: string; parentPath: string; isFile(): boolean }>
  try {
    entries = await readdir(out, { recursive: true, withFileTypes: true })
  } catch {
    return
  }
  for (const entry of entries) {
    if (entry.isFile() && entry.name.endsWith(temporarySuffix))
      await rm(join(entry.parentPath, entry.name), { force: true })
  }
}

interface Job {
  readonly source: string
  readonly concept: Concept
  readonly target: string
  readonly format: OutputFormat
}

const captionTargetOf = (job: Job, captionExtension: string) =>
  job.target.slice(0, -extname(job.target).length) + captionExtension

const readIfExists = (path: string): Promise<Buffer | undefined> =>
  readFile(path).catch((cause: NodeJS.ErrnoException) =>
    cause.code === "ENOENT" ? undefined : Promise.reject(cause),
  )

/** Captions already in the output whose bytes differ from the ones this run would write over them. */
const changedCaptions = async (jobs: ReadonlyArray<Job>, captionExtension: string) => {
  const changed: Array<string> = []
  for (const job of jobs) {
    const existing = await readIfExists(captionTargetOf(job, captionExtension))
    if (existing === undefined) continue
    const caption = await readCaption(job.source, captionExtension)
    if (caption.kind !== "found" && caption.kind !== "empty") continue
    if (!existing.equals(await readFile(caption.path))) changed.push(captionTargetOf(job, captionExtension))
  }
  return changed
}

/**
 * Writes a training-ready copy of a training folder: the same `<repeats>_<name>` folders, every
 * image resized and cropped to its size or bucket, flattened and stripped, with its caption next to
 * it, plus `danlu-dataset.json` listing what was written. The source folder is only read. Each file
 * is written atomically, and interrupting the run finishes the files in flight first, so the output
 * never holds a half-written file.
 */
export const prepareDataset = (
  root: string,
  options: PrepareOptions,
): Effect.Effect<PrepareResult, DatasetError> =>
  Effect.gen(function* () {
    const sizing = options.sizing ?? defaultSizing
    const captionExtension = options.captionExtension ?? ".txt"
    const quality = options.quality ?? 95
    if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
      return yield* new DatasetError({ message: `quality must be an integer from 1 to 100, got ${quality}` })
    }
    const out = resolve(options.out)
    const [realRoot, realOut] = yield* Effect.promise(() =>
      Promise.all([realPathOf(resolve(root)), realPathOf(out)]),
    )
    if (isInside(realOut, realRoot) || isInside(realRoot, realOut)) {
      return yield* new DatasetError({
        message: `the output folder ${options.out} must lie outside the training folder ${root} (danlu never writes into your files)`,
        path: out,
        problem: "output-inside-source",
      })
    }
    const folder = yield* scanTrainingFolder(root)
    const concepts = folder.concepts.filter((c) => c.images.length > 0)
    if (concepts.length === 0) {
      return yield* new DatasetError({
        message: folder.rootLooksLikeConcept
          ? `${root} is a concept folder; run prepare on its parent folder`
          : `no <repeats>_<name> folders with images in ${root}; run \`danlu dataset check ${root}\` to see why`,
        path: root,
      })
    }
    const jobs: Array<Job> = []
    const targets = new Map<string, string>()
    for (const concept of concepts) {
      for (const source of concept.images) {
        const format =
          options.format === undefined || options.format === "same"
            ? formatOfExtension(source)
            : options.format
        const target = join(out, concept.folderName, basename(source, extname(source)) + extensionOf[format])
        const clash = targets.get(target)
        if (clash !== undefined) {
          return yield* new DatasetError({
            message: `${clash} and ${source} would both be written as ${target}; rename one of them`,
            path: source,
          })
        }
        targets.set(target, source)
        jobs.push({ source, concept, target, format })
      }
    }
    if (yield* Effect.promise(() => holdsOtherFiles(out))) {
      return yield* new DatasetError({
        message: `${options.out} already holds files that danlu did not write (no ${manifestName})`,
        path: out,
        problem: "output-not-prepared",
      })
    }
    const changed = yield* Effect.tryPromise({
      try: () => changedCaptions(jobs, captionExtension),
      catch: (cause) =>
        new DatasetError({ message: `cannot read the captions in ${options.out}: ${describeCause(cause)}` }),
    })
    if (changed.length > 0 && options.replaceChangedCaptions !== true) {
      const count = changed.length === 1 ? "1 caption" : `${changed.length} captions`
      return yield* new DatasetError({
        message: `${count} in ${options.out} ${changed.length === 1 ? "was" : "were"} changed since the earlier prepare (edited or tagged there), e.g. ${relative(out, changed[0]!)}; replacing ${changed.length === 1 ? "it keeps the old one" : "them keeps each old one"} as <caption>.bak`,
        path: out,
        problem: "captions-changed",
      })
    }
    const toBackUp = new Set(changed)
    yield* Effect.promise(() => removeLeftovers(out))
    const manifest = (complete: boolean, images: ReadonlyArray<PreparedEntry>) =>
      Effect.tryPromise({
        try: () =>
          writeFileAtomic(
            join(out, manifestName),
            `${JSON.stringify({ version: 1, source: resolve(root), sizing, complete, images }, null, 2)}\n`,
          ),
        catch: (cause) =>
          new DatasetError({
            message: `cannot write ${join(out, manifestName)}: ${describeCause(cause)}`,
            path: out,
          }),
      })
    // Written first, so that a run stopped half-way leaves a folder the next run recognises and finishes.
    yield* manifest(false, [])

    const transform = {
      assigner: makeAssigner(sizing),
      background: options.background ?? white,
      upscale: options.upscale ?? false,
      quality,
    }
    // Each image written or skipped is one unit of the "prepare" task.
    const progress = progressCounter(yield* Progress, { task: "prepare", unit: "image", total: jobs.length })
    progress.start()
    const outcomes = yield* Effect.forEach(
      jobs,
      (job) =>
        Effect.gen(function* () {
          const bytes = yield* Effect.tryPromise({
            try: () => readFile(job.source),
            catch: (cause) =>
              new DatasetError({
                message: `cannot read ${job.source}: ${describeCause(cause)}`,
                path: job.source,
              }),
          })
          const prepared = yield* Effect.tryPromise({
            try: () => prepareImage(bytes, { ...transform, format: job.format }),
            catch: describeImageFailure,
          }).pipe(Effect.catch((reason) => Effect.succeed({ kind: "failed" as const, reason })))
          if (prepared.kind !== "done") {
            return { kind: "skipped" as const, job, prepared }
          }
          const caption = yield* Effect.promise(() => readCaption(job.source, captionExtension))
          // Writing is uninterruptible: an interrupt waits for this image and its caption to land whole.
          yield* Effect.uninterruptible(
            Effect.tryPromise({
              try: async () => {
                await writeFileAtomic(job.target, prepared.bytes)
                if (caption.kind === "found" || caption.kind === "empty") {
                  const target = captionTargetOf(job, captionExtension)
                  if (toBackUp.has(target)) await writeFileAtomic(`${target}.bak`, await readFile(target))
                  await writeFileAtomic(target, await readFile(caption.path))
                }
              },
              catch: (cause) =>
                new DatasetError({
                  message: `cannot write ${job.target}: ${describeCause(cause)}`,
                  path: job.target,
                }),
            }),
          )
          return { kind: "written" as const, job, prepared, captioned: caption.kind === "found" }
        }).pipe(
          Effect.tap(() => Effect.sync(() => progress.advance(basename(job.source), { path: job.source }))),
        ),
      { concurrency: options.concurrency ?? 2 },
    )

    const images: Array<PreparedEntry> = []
    const upscaled: Array<string> = []
    const skipped: Array<SkippedFile> = []
    for (const outcome of outcomes) {
      const { job } = outcome
      if (outcome.kind === "skipped") {
        skipped.push({
          path: job.source,
          reason:
            outcome.prepared.kind === "failed"
              ? `cannot decode: ${outcome.prepared.reason}`
              : outcome.prepared.kind === "no-bucket"
                ? `too small for this bucket setting: its ${formatSize(outcome.prepared.assignment.resized)} has a side under the ${sizing.mode === "buckets" ? sizing.step : 0} px bucket step, and images are not upscaled`
                : `smaller than its ${outcome.prepared.assignment.bucket.width}×${outcome.prepared.assignment.bucket.height} target; upscale it properly first, or pass --upscale (Lanczos, soft) or --bucket-no-upscale (train it smaller)`,
        })
        continue
      }
      if (outcome.prepared.assignment.upscaled) upscaled.push(job.source)
      images.push({
        file: relative(out, job.target),
        source: job.source,
        concept: job.concept.folderName,
        repeats: job.concept.repeats,
        bucket: outcome.prepared.assignment.bucket,
        caption: outcome.captioned,
      })
    }
    yield* manifest(true, images)
    return { out, images, upscaled, skipped }
  })
