/// <reference types="node" />
import { FileAccessError } from "../../io/errors.js"

const reasons: Readonly<Record<string, string>> = {
  ENOENT: "no such file or folder",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "is a folder, not a file",
  ENOTDIR: "a parent of this path is not a folder",
  ENOSPC: "the disk is full",
  EROFS: "the file system is read-only",
  EEXIST: "already exists",
}

/** A Node fs failure as one readable line. */
export const fileError = (path: string, cause: unknown): FileAccessError => {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  const reason = code !== undefined ? reasons[code] : undefined
  return new FileAccessError({
    path,
    detail: reason ?? String((cause as Error | undefined)?.message ?? cause),
  })
}
