import { Effect } from "effect"
import { parseCaption } from "../captions/captionText.js"
import type { TaggerFileError, TaggerInputError } from "../errors.js"
import { tagKey } from "../tags/formatTag.js"
import { type CaptionedImage, type CaptionFolderOptions, readCaptionedImages } from "./captionedImages.js"

export interface TagCount {
  readonly tag: string
  /** Captions that contain the tag. */
  readonly count: number
  /** `count` over the captioned images of the group, 0–1. */
  readonly share: number
}

export interface TagGroupFrequency {
  /** The concept folder, or `total` for the whole dataset. */
  readonly concept: string
  readonly images: number
  readonly captioned: number
  /** Most frequent first; ties in caption order of first appearance. */
  readonly tags: ReadonlyArray<TagCount>
}

export interface TagFrequencyReport {
  readonly concepts: ReadonlyArray<TagGroupFrequency>
  readonly total: TagGroupFrequency
}

const countGroup = (concept: string, images: ReadonlyArray<CaptionedImage>): TagGroupFrequency => {
  const counts = new Map<string, { tag: string; count: number }>()
  let captioned = 0
  for (const image of images) {
    if (image.text === null) continue
    captioned++
    const seen = new Set<string>()
    for (const tag of parseCaption(image.text)) {
      const key = tagKey(tag)
      if (seen.has(key)) continue
      seen.add(key)
      const entry = counts.get(key)
      if (entry === undefined) counts.set(key, { tag, count: 1 })
      else entry.count++
    }
  }
  const tags = [...counts.values()]
    .map(({ tag, count }) => ({ tag, count, share: captioned === 0 ? 0 : count / captioned }))
    .sort((a, b) => b.count - a.count)
  return { concept, images: images.length, captioned, tags }
}

/** Tag frequencies per concept folder and over the whole dataset (each tag counted once per caption). */
export const countTagFrequency = (images: ReadonlyArray<CaptionedImage>): TagFrequencyReport => {
  const byConcept = new Map<string, Array<CaptionedImage>>()
  for (const image of images) {
    const group = byConcept.get(image.concept)
    if (group === undefined) byConcept.set(image.concept, [image])
    else group.push(image)
  }
  return {
    concepts: [...byConcept].map(([concept, group]) => countGroup(concept, group)),
    total: countGroup("total", images),
  }
}

/** Reads a dataset folder's captions and counts their tags. */
export const tagFrequency = (
  folder: string,
  options: CaptionFolderOptions = {},
): Effect.Effect<TagFrequencyReport, TaggerInputError | TaggerFileError> =>
  Effect.map(readCaptionedImages(folder, options), countTagFrequency)
