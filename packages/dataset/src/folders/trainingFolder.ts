import { readdir, stat } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { Effect } from "effect"
import { DatasetError, describeCause } from "../errors.js"
import { scanFolder } from "../image/listImages.js"
import { parseConceptName } from "./conceptFolder.js"

/** One `<repeats>_<name>` folder and what is in it. */
export interface Concept {
  readonly path: string
  readonly folderName: string
  readonly name: string
  readonly repeats: number
  readonly separator: "_" | "-"
  /** From the regularisation (class) folder rather than the training folder. */
  readonly isRegularization: boolean
  /** PNG/JPG/WebP directly in the folder: what kohya trains on. */
  readonly images: ReadonlyArray<string>
  /** GIF, BMP, TIFF, … directly in the folder: listed and skipped. */
  readonly unsupportedImages: ReadonlyArray<string>
  /** Images in sub-folders, which kohya does not read. */
  readonly nestedImages: ReadonlyArray<string>
  /** Everything else (captions included). */
  readonly otherFiles: ReadonlyArray<string>
}

export interface IgnoredFolder {
  readonly path: string
  readonly reason: string
}

export interface TrainingFolder {
  readonly root: string
  readonly regularizationRoot: string | undefined
  readonly concepts: ReadonlyArray<Concept>
  readonly ignoredFolders: ReadonlyArray<IgnoredFolder>
  /** Images lying directly in the training folder; kohya ignores them. */
  readonly looseImages: ReadonlyArray<string>
  /** The folder itself is named like a concept: the user likely pointed at `…/10_cat`, not its parent. */
  readonly rootLooksLikeConcept: boolean
}

const requireFolder = (path: string, what: string) =>
  Effect.tryPromise({
    try: () => stat(path),
    catch: (cause) =>
      new DatasetError({
        message:
          (cause as NodeJS.ErrnoException).code === "ENOENT"
            ? `${what} ${path} does not exist; check the path`
            : `${what} ${path} cannot be read: ${describeCause(cause)}`,
        path,
      }),
  }).pipe(
    Effect.flatMap((info) =>
      info.isDirectory()
        ? Effect.void
        : Effect.fail(new DatasetError({ message: `${what} ${path} is a file, not a folder`, path })),
    ),
  )

const scanConceptFolders = (root: string, isRegularization: boolean) =>
  Effect.gen(function* () {
    const top = yield* scanFolder(root)
    const entries = yield* Effect.tryPromise({
      try: () => readdir(root, { withFileTypes: true }),
      catch: (cause) =>
        new DatasetError({ message: `cannot read folder ${root}: ${describeCause(cause)}`, path: root }),
    })
    const folders = entries
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
      .map((entry) => entry.name)
      .sort()
    const concepts: Array<Concept> = []
    const ignoredFolders: Array<IgnoredFolder> = []
    for (const folderName of folders) {
      const path = join(root, folderName)
      const parsed = parseConceptName(folderName)
      if (parsed === undefined) {
        ignoredFolders.push({
          path,
          reason: /^0+[_-]/.test(folderName)
            ? "repeats must be at least 1"
            : `not named <repeats>_<name> (e.g. 10_${folderName})`,
        })
        continue
      }
      const listing = yield* scanFolder(path, { recursive: true })
      const inFolder = (file: string) => dirname(file) === path
      concepts.push({
        path,
        folderName,
        ...parsed,
        isRegularization,
        images: listing.images.filter(inFolder),
        unsupportedImages: listing.unsupportedImages.filter(inFolder),
        nestedImages: listing.images.filter((file) => !inFolder(file)),
        otherFiles: listing.otherFiles.filter(inFolder),
      })
    }
    return { concepts, ignoredFolders, looseImages: [...top.images, ...top.unsupportedImages] }
  })

/**
 * Reads a training folder the way kohya does: each immediate sub-folder named `<repeats>_<name>`
 * (or the guide's `<repeats>-<name>`) is a concept; other sub-folders and loose files are reported,
 * not used. A regularisation folder, when given, follows the same naming.
 */
export const scanTrainingFolder = (
  root: string,
  options: { readonly regularizationRoot?: string } = {},
): Effect.Effect<TrainingFolder, DatasetError> =>
  Effect.gen(function* () {
    yield* requireFolder(root, "training folder")
    const train = yield* scanConceptFolders(root, false)
    const regRoot = options.regularizationRoot
    let reg: { concepts: Array<Concept>; ignoredFolders: Array<IgnoredFolder> } = {
      concepts: [],
      ignoredFolders: [],
    }
    if (regRoot !== undefined) {
      yield* requireFolder(regRoot, "regularisation folder")
      reg = yield* scanConceptFolders(regRoot, true)
    }
    return {
      root,
      regularizationRoot: regRoot,
      concepts: [...train.concepts, ...reg.concepts],
      ignoredFolders: [...train.ignoredFolders, ...reg.ignoredFolders],
      looseImages: train.looseImages,
      rootLooksLikeConcept: parseConceptName(basename(root)) !== undefined,
    }
  })
