import { open } from "node:fs/promises"
import { basename, dirname, extname, join } from "node:path"

/** What was found next to an image. */
export type CaptionLookup =
  | { readonly kind: "found"; readonly path: string; readonly text: string }
  | { readonly kind: "missing" }
  | { readonly kind: "empty"; readonly path: string }
  | { readonly kind: "unreadable"; readonly path: string; readonly reason: string }

/**
 * The caption file candidates for an image, in kohya's order: `<name><ext>`, then — for names with
 * at least five `_`-separated parts (a face-crop naming convention) — the name without its last four.
 */
export const captionCandidates = (imagePath: string, extension: string): ReadonlyArray<string> => {
  const stem = basename(imagePath, extname(imagePath))
  const dir = dirname(imagePath)
  const candidates = [join(dir, stem + extension)]
  const parts = stem.split("_")
  if (parts.length >= 5) candidates.push(join(dir, parts.slice(0, -4).join("_") + extension))
  return candidates
}

/** Caption files bigger than this are refused unread: a caption is one line, and a huge file is a mistake. */
export const maxCaptionBytes = 1024 * 1024

/** Why a caption file of `size` bytes is refused. */
export const captionTooBig = (size: number): string =>
  `${size} bytes, more than a caption's 1 MiB limit: a caption is one line of tags or text`

const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * Reads an image's caption: the first line of the file, trimmed, as kohya reads it. A missing caption
 * is not an error (kohya falls back to the folder's class tokens); an empty, non-UTF-8 or over-1-MiB
 * file is reported as such.
 */
export const readCaption = async (imagePath: string, extension: string): Promise<CaptionLookup> => {
  for (const path of captionCandidates(imagePath, extension)) {
    let bytes: Uint8Array
    try {
      const file = await open(path)
      try {
        const { size } = await file.stat()
        if (size > maxCaptionBytes) return { kind: "unreadable", path, reason: captionTooBig(size) }
        bytes = await file.readFile()
      } finally {
        await file.close()
      }
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") continue
      return { kind: "unreadable", path, reason: cause instanceof Error ? cause.message : String(cause) }
    }
    let text: string
    try {
      text = utf8.decode(bytes)
    } catch {
      return { kind: "unreadable", path, reason: "not UTF-8 text" }
    }
    const firstLine = (text.split(/\r?\n/)[0] ?? "").replace(/^\uFEFF/, "").trim()
    return firstLine === "" ? { kind: "empty", path } : { kind: "found", path, text: firstLine }
  }
  return { kind: "missing" }
}
