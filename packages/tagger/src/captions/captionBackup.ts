import { open, rm } from "node:fs/promises"
import { join, relative, resolve, sep } from "node:path"
import { captionTooBig, maxCaptionBytes } from "@danlu/dataset"
import { Effect } from "effect"
import { NothingToUndo, TaggerFileError } from "../errors.js"
import { writeFileAtomic } from "./atomicWrite.js"

/** The one level of backup a folder keeps: written before any caption changes, replaced by the next write. */
export const backupFileName = ".danlu-captions-backup.json"

interface BackupFile {
  readonly version: 1
  readonly command: string
  readonly createdAt: string
  /** Caption path relative to the folder → its text before the change, or null if it did not exist. */
  readonly captions: Record<string, string | null>
}

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT"

const fileError = (path: string, action: string) => (error: unknown) =>
  new TaggerFileError({ path, message: `cannot ${action} ${path}: ${(error as Error).message}` })

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

class NotUtf8 extends Error {}

class TooBig extends Error {
  constructor(readonly size: number) {
    super()
  }
}

/**
 * Reads a caption, or null when there is none. A file that is not UTF-8 is refused: decoding it
 * leniently and writing it back would replace the user's characters with U+FFFD. So is one over 1 MiB.
 */
export const readCaptionFile = (path: string): Effect.Effect<string | null, TaggerFileError> =>
  Effect.tryPromise({
    try: async () => {
      let bytes: Uint8Array
      try {
        const file = await open(path)
        try {
          const { size } = await file.stat()
          if (size > maxCaptionBytes) throw new TooBig(size)
          bytes = await file.readFile()
        } finally {
          await file.close()
        }
      } catch (error) {
        if (isMissing(error)) return null
        throw error
      }
      try {
        return utf8.decode(bytes)
      } catch {
        throw new NotUtf8()
      }
    },
    catch: (error) =>
      error instanceof TooBig
        ? new TaggerFileError({ path, message: `${path} is ${captionTooBig(error.size)}` })
        : error instanceof NotUtf8
          ? new TaggerFileError({
              path,
              message: `${path} is not UTF-8 text; save it as UTF-8 (or delete it) and run again`,
            })
          : fileError(path, "read")(error),
  })

/**
 * Writes a caption atomically. Uninterruptible so that stopping a run (Ctrl-C, a fiber interrupt) never
 * leaves a temporary file behind: each caption is either the old one or the new one.
 */
export const writeCaptionFile = (path: string, text: string): Effect.Effect<void, TaggerFileError> =>
  Effect.uninterruptible(
    Effect.tryPromise({ try: () => writeFileAtomic(path, text), catch: fileError(path, "write") }),
  )

/**
 * Records the current text of `captionPaths` (null for those that don't exist yet) as the folder's
 * backup, replacing the previous one. Call it before changing any of them.
 */
export const saveCaptionBackup = (
  folder: string,
  command: string,
  captionPaths: Iterable<string>,
): Effect.Effect<void, TaggerFileError> =>
  Effect.gen(function* () {
    const captions: Record<string, string | null> = {}
    for (const path of captionPaths) captions[relative(folder, path)] = yield* readCaptionFile(path)
    const backup: BackupFile = { version: 1, command, createdAt: new Date().toISOString(), captions }
    yield* writeCaptionFile(join(folder, backupFileName), JSON.stringify(backup))
  })

export interface UndoResult {
  /** The command whose changes were undone. */
  readonly command: string
  readonly restored: number
  readonly removed: number
}

/**
 * Puts every caption recorded in the folder's backup back as it was (deleting captions that did not exist
 * then), then drops the backup.
 */
export const undoCaptionChanges = (
  folder: string,
): Effect.Effect<UndoResult, TaggerFileError | NothingToUndo> =>
  Effect.gen(function* () {
    const backupPath = join(folder, backupFileName)
    const text = yield* readCaptionFile(backupPath)
    if (text === null) {
      return yield* new NothingToUndo({
        message: `nothing to undo in ${folder}: no caption backup (${backupFileName})`,
      })
    }
    const backup = yield* Effect.try({
      try: () => JSON.parse(text) as BackupFile,
      catch: () =>
        new TaggerFileError({ path: backupPath, message: `${backupPath} is damaged; remove it to continue` }),
    })
    const root = resolve(folder)
    let restored = 0
    let removed = 0
    for (const [name, previous] of Object.entries(backup.captions)) {
      const path = resolve(root, name)
      if (!path.startsWith(root + sep)) {
        return yield* new TaggerFileError({
          path: backupPath,
          message: `${backupPath} names a file outside ${folder}`,
        })
      }
      if (previous === null) {
        if ((yield* readCaptionFile(path)) === null) continue
        yield* Effect.tryPromise({ try: () => rm(path, { force: true }), catch: fileError(path, "remove") })
        removed++
      } else {
        yield* writeCaptionFile(path, previous)
        restored++
      }
    }
    yield* Effect.tryPromise({
      try: () => rm(backupPath, { force: true }),
      catch: fileError(backupPath, "remove"),
    })
    return { command: backup.command, restored, removed }
  })
