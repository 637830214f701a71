import { tagKey } from "../tags/formatTag.js"
import { formatCaption, parseCaption } from "./captionText.js"

/** What auto-tagging does with an image that already has a caption. */
export type ExistingCaptions = "skip" | "append" | "overwrite"

/**
 * The caption to write for an image. `predicted` starts with the trigger words. Append keeps the
 * existing tags in their order, puts missing trigger words in front and adds new predictions at the end,
 * each tag once.
 */
export const mergeCaption = (
  existing: string | null,
  predicted: ReadonlyArray<string>,
  triggerWords: ReadonlyArray<string>,
  mode: ExistingCaptions,
): string => {
  if (existing === null || mode !== "append") return formatCaption(predicted)
  const current = parseCaption(existing)
  const seen = new Set<string>()
  const out: Array<string> = []
  const push = (tag: string) => {
    const key = tagKey(tag)
    if (seen.has(key)) return
    seen.add(key)
    out.push(tag)
  }
  const present = new Set(current.map(tagKey))
  for (const trigger of triggerWords) if (!present.has(tagKey(trigger))) push(trigger)
  for (const tag of current) push(tag)
  for (const tag of predicted) push(tag)
  return formatCaption(out)
}
