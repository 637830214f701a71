import { kaomoji } from "./kaomoji.js"

/** `long_hair` → `long hair`; kaomoji such as `^_^` keep their underscores. */
export const underscoresToSpaces = (name: string): string =>
  kaomoji.has(name) ? name : name.replaceAll("_", " ")

/**
 * Escapes `(`, `)` and `\` the way A1111's tagger does, so that `name (series)` is not read as
 * prompt emphasis.
 */
export const escapeForPrompt = (tag: string): string => tag.replace(/([\\()])/g, "\\$1")

/** Undoes {@link escapeForPrompt}. */
export const unescapePrompt = (tag: string): string => tag.replace(/\\([\\()])/g, "$1")

export interface TagFormat {
  /** Write `long hair` instead of `long_hair` (kaomoji excepted). Default true. */
  readonly replaceUnderscores?: boolean
  /** Write `\(` and `\)` for A1111 prompts. Default false. */
  readonly escapeParentheses?: boolean
}

export const formatTag = (name: string, format: TagFormat = {}): string => {
  const spaced = format.replaceUnderscores === false ? name : underscoresToSpaces(name)
  return format.escapeParentheses === true ? escapeForPrompt(spaced) : spaced
}

/**
 * The form used to compare tags written by people with tags from the CSV: unescaped, with spaces.
 * So `long_hair`, `long hair` and an escaped `name \(series\)` all match their CSV row.
 */
export const tagKey = (tag: string): string => underscoresToSpaces(unescapePrompt(tag.trim()))
