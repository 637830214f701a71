import { randomBytes } from "node:crypto"
import { rename, rm, writeFile } from "node:fs/promises"
import { basename, dirname, join } from "node:path"

/**
 * Writes `text` to `path` through a temporary file in the same folder and a rename, so that a reader —
 * or a run interrupted at any point — sees either the old file or the new one, never a partial write.
 */
export const writeFileAtomic = async (path: string, text: string): Promise<void> => {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`)
  try {
    await writeFile(temp, text, "utf8")
    await rename(temp, path)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
}
