import { TaggerInputError } from "../errors.js"
import { tagKey } from "../tags/formatTag.js"

/** One caption's tags in, the edited tags out. */
export type TagEdit = (tags: ReadonlyArray<string>) => Array<string>

const keySet = (tags: ReadonlyArray<string>) => new Set(tags.map(tagKey))

/** Keeps the first occurrence of each tag (`long_hair` and `long hair` count as the same tag). */
export const dedupe: TagEdit = (tags) => {
  const seen = new Set<string>()
  return tags.filter((tag) => {
    const key = tagKey(tag)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/** Adds the tags a caption doesn't have yet, at the front (in the given order) or at the end. */
export const addTags =
  (added: ReadonlyArray<string>, position: "front" | "end" = "end"): TagEdit =>
  (tags) => {
    const present = keySet(tags)
    const missing = dedupe(added.filter((tag) => !present.has(tagKey(tag))))
    return position === "front" ? [...missing, ...tags] : [...tags, ...missing]
  }

export const removeTags =
  (removed: ReadonlyArray<string>): TagEdit =>
  (tags) => {
    const gone = keySet(removed)
    return tags.filter((tag) => !gone.has(tagKey(tag)))
  }

const compilePattern = (search: string): RegExp => {
  try {
    return new RegExp(search, "g")
  } catch (error) {
    throw new TaggerInputError({ message: `not a valid regular expression: ${(error as Error).message}` })
  }
}

/**
 * Replaces a tag. Plain: every tag equal to `search` becomes `replacement` (several tags when it holds
 * commas, none when it is empty). Regex: `search` runs on each tag with JavaScript's `replace`, so `$1`
 * works, and a tag that becomes empty is dropped. Duplicates the replacement creates are merged.
 */
export const replaceTag = (
  search: string,
  replacement: string,
  options: { readonly regex?: boolean } = {},
): TagEdit => {
  const pattern = options.regex === true ? compilePattern(search) : undefined
  return (tags) => {
    const splitReplacement = (text: string) =>
      text
        .split(",")
        .map((tag) => tag.trim())
        .filter((tag) => tag !== "")
    let out: Array<string>
    if (pattern !== undefined) {
      out = tags.flatMap((tag) => splitReplacement(tag.replace(pattern, replacement)))
    } else {
      const key = tagKey(search)
      out = tags.flatMap((tag) => (tagKey(tag) === key ? splitReplacement(replacement) : [tag]))
    }
    return dedupe(out)
  }
}

/** Moves the named tags, where present, to the front in the given order (for kohya's `keep_tokens`). */
export const moveToFront =
  (front: ReadonlyArray<string>): TagEdit =>
  (tags) => {
    const keys = front.map(tagKey)
    const first: Array<string> = []
    for (const key of keys) {
      const found = tags.find((tag) => tagKey(tag) === key)
      if (found !== undefined && !first.includes(found)) first.push(found)
    }
    const moved = new Set(first)
    return [...first, ...tags.filter((tag) => !moved.has(tag))]
  }
