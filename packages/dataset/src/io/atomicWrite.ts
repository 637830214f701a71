import { randomBytes } from "node:crypto"
import { mkdir, rename, rm, writeFile } from "node:fs/promises"
import { basename, dirname, join } from "node:path"

/** Temporary files carry this suffix, so a later run can tell its own leftovers from user files. */
export const temporarySuffix = ".danlu-tmp"

/**
 * Writes a file so that readers only ever see the old content or the whole new content: the bytes go
 * to a temporary file in the same folder, which is then renamed over the target (atomic on POSIX and
 * on NTFS within one volume). The temporary file is removed if anything fails.
 */
export const writeFileAtomic = async (path: string, bytes: Uint8Array | string): Promise<void> => {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true })
  const temporary = join(dir, `.${basename(path)}.${randomBytes(4).toString("hex")}${temporarySuffix}`)
  try {
    await writeFile(temporary, bytes)
    await rename(temporary, path)
  } catch (cause) {
    await rm(temporary, { force: true })
    throw cause
  }
}
