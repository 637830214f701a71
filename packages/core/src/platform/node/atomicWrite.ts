/// <reference types="node" />
import { randomBytes } from "node:crypto"
import { copyFile, link, lstat, open, rename, rm } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { Effect, Exit } from "effect"
import type { ByteSink } from "../../io/byteSource.js"
import { FileAccessError, OutputExists } from "../../io/errors.js"
import { fileError } from "./fileErrors.js"

/**
 * What to do when the target already exists: refuse, keep a backup, or (for files a program owns, such as a
 * training run's own checkpoints) replace it.
 */
export type ExistingFile = "refuse" | "backup" | "replace"

export interface AtomicWriteResult {
  /** Where the previous file was kept, when one was replaced. */
  readonly backup?: string
}

const exists = (path: string): Promise<boolean> =>
  lstat(path).then(
    () => true,
    (cause: NodeJS.ErrnoException) => (cause.code === "ENOENT" ? false : Promise.reject(cause)),
  )

const isFolder = (path: string): Promise<boolean> =>
  lstat(path).then(
    (stats) => stats.isDirectory(),
    () => false,
  )

const freeBackupName = async (path: string): Promise<string> => {
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? `${path}.bak` : `${path}.bak.${n}`
    if (!(await exists(candidate))) return candidate
  }
}

/**
 * Writes a file atomically: everything goes to a temporary file in the same folder, which is flushed and then
 * renamed over the target, so readers see the old file or the new one, never half of one. A failed or
 * interrupted write removes the temporary file. An existing target is refused, or (with "backup") kept under
 * `<path>.bak` (or `.bak.N`) before it is replaced.
 */
export const writeFileAtomic = <E>(
  path: string,
  write: (sink: ByteSink) => Effect.Effect<void, E>,
  options: { readonly existing: ExistingFile },
): Effect.Effect<AtomicWriteResult, E | FileAccessError | OutputExists> =>
  Effect.gen(function* () {
    const attempt = <A>(run: () => Promise<A>) =>
      Effect.tryPromise({ try: run, catch: (cause) => fileError(path, cause) })
    if (yield* attempt(() => isFolder(path))) {
      return yield* new FileAccessError({ path, detail: "is a folder; name the file to write inside it" })
    }
    const replacing = yield* attempt(() => exists(path))
    if (replacing && options.existing === "refuse") return yield* new OutputExists({ path })
    const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`)
    const handle = yield* attempt(() => open(temp, "wx"))
    const sink: ByteSink = {
      name: path,
      write: (bytes) =>
        attempt(async () => {
          let written = 0
          while (written < bytes.length) {
            const { bytesWritten } = await handle.write(bytes, written, bytes.length - written)
            written += bytesWritten
          }
        }),
    }
    yield* Effect.gen(function* () {
      yield* write(sink)
      yield* attempt(() => handle.sync())
    }).pipe(
      Effect.ensuring(Effect.promise(() => handle.close().catch(() => undefined))),
      Effect.onExit((exit) =>
        Exit.isFailure(exit) ? Effect.promise(() => rm(temp, { force: true })) : Effect.void,
      ),
    )
    let backup: string | undefined
    if (replacing && options.existing === "backup") {
      backup = yield* attempt(async () => {
        const name = await freeBackupName(path)
        await link(path, name).catch(() => copyFile(path, name))
        return name
      })
    }
    yield* attempt(() => rename(temp, path)).pipe(
      Effect.tapError(() => Effect.promise(() => rm(temp, { force: true }))),
    )
    return backup === undefined ? {} : { backup }
  })
