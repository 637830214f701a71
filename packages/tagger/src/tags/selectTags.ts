import type { TagLabel, TagLabels } from "../labels/selectedTags.js"
import { formatTag, type TagFormat, tagKey } from "./formatTag.js"

export type TagOrder = "confidence" | "csv"

export interface TagSelection extends TagFormat {
  /** Keep general tags with probability ≥ this. Default 0.35, as in every WD1.4 front end. */
  readonly generalThreshold?: number
  /** Keep character tags with probability ≥ this. Default 0.85 (characters are costly to get wrong). */
  readonly characterThreshold?: number
  /** Add the most likely rating (`general`, `sensitive`, …) right after the trigger words. Default false. */
  readonly includeRating?: boolean
  /** Tags never written, compared with underscores or spaces alike. */
  readonly exclude?: ReadonlyArray<string>
  /** Written first, in this order (the guide: the LoRA's name, e.g. `he-tian-yi-lang`). */
  readonly triggerWords?: ReadonlyArray<string>
  /** `confidence` (highest first, the A1111 extension's default) or `csv` (the tag list's order). */
  readonly order?: TagOrder
  /** Keep at most this many predicted tags (the most confident ones); trigger words and rating don't count. */
  readonly maxTags?: number
}

export interface ScoredTag {
  readonly tag: string
  readonly label: TagLabel
  readonly probability: number
}

export const defaultGeneralThreshold = 0.35
export const defaultCharacterThreshold = 0.85

const byConfidence = (a: ScoredTag, b: ScoredTag) =>
  b.probability - a.probability || a.label.index - b.label.index

/**
 * Turns one image's output vector into the predicted tags (without trigger words), most relevant first
 * according to `order`. Exported for callers that want the probabilities, e.g. to show them.
 */
export const scoreTags = (
  probabilities: ArrayLike<number>,
  labels: TagLabels,
  selection: TagSelection = {},
): { readonly tags: ReadonlyArray<ScoredTag>; readonly rating: ScoredTag | undefined } => {
  const general = selection.generalThreshold ?? defaultGeneralThreshold
  const character = selection.characterThreshold ?? defaultCharacterThreshold
  const excluded = new Set([...(selection.exclude ?? []), ...(selection.triggerWords ?? [])].map(tagKey))
  const scored = (label: TagLabel): ScoredTag => ({
    tag: formatTag(label.name, selection),
    label,
    probability: probabilities[label.index] ?? 0,
  })

  let kept: Array<ScoredTag> = []
  for (const label of labels.labels) {
    if (label.category === "rating") continue
    const p = probabilities[label.index] ?? 0
    if (p < (label.category === "character" ? character : general)) continue
    if (excluded.has(tagKey(label.name))) continue
    kept.push(scored(label))
  }
  if (selection.maxTags !== undefined && kept.length > selection.maxTags) {
    kept = kept.sort(byConfidence).slice(0, Math.max(0, selection.maxTags))
  }
  kept.sort(selection.order === "csv" ? (a, b) => a.label.index - b.label.index : byConfidence)

  let rating: ScoredTag | undefined
  for (const label of labels.ratings) {
    const candidate = scored(label)
    if (rating === undefined || candidate.probability > rating.probability) rating = candidate
  }
  return { tags: kept, rating }
}

/** The caption tags for one image: trigger words, then the rating if asked for, then predicted tags. */
export const selectTags = (
  probabilities: ArrayLike<number>,
  labels: TagLabels,
  selection: TagSelection = {},
): Array<string> => {
  const { tags, rating } = scoreTags(probabilities, labels, selection)
  const out = [...(selection.triggerWords ?? [])]
  if (selection.includeRating === true && rating !== undefined && !out.includes(rating.tag))
    out.push(rating.tag)
  for (const scored of tags) out.push(scored.tag)
  return out
}
