import { Effect } from "effect"
import { formatCaption, parseCaption } from "../captions/captionText.js"
import { type TaggerFileError, TaggerInputError } from "../errors.js"
import { tagKey } from "../tags/formatTag.js"
import { readCaptionedImages } from "./captionedImages.js"
import {
  type CaptionChange,
  type EditCaptionsOptions,
  type EditReport,
  writeCaptionChanges,
} from "./editCaptions.js"
import { addTags, moveToFront, removeTags } from "./tagEdits.js"
import { countTagFrequency, type TagCount } from "./tagFrequency.js"

export interface PruneOptions extends EditCaptionsOptions {
  /** The LoRA's trigger word(s); never pruned, and put first in every caption that is rewritten. */
  readonly trigger: ReadonlyArray<string>
  /** A tag is a concept's inherent feature when at least this share of its captions has it. Default 0.5. */
  readonly minShare?: number
  /** Tags to remove from every caption of the folder. */
  readonly remove?: ReadonlyArray<string>
  /** Remove, per concept, every tag at or above `minShare` (except `keep`). */
  readonly auto?: boolean
  /** Tags `auto` leaves in place. */
  readonly keep?: ReadonlyArray<string>
}

export interface ConceptCandidates {
  readonly concept: string
  readonly captioned: number
  /** Tags at or above the share, trigger words left out, most frequent first. */
  readonly tags: ReadonlyArray<TagCount>
}

export interface PruneReport {
  readonly candidates: ReadonlyArray<ConceptCandidates>
  /** Captions that lost each tag, per concept. */
  readonly removed: ReadonlyArray<{ readonly concept: string; readonly tag: string; readonly count: number }>
  /** Captions in which the trigger word(s) were added or moved to the front. */
  readonly triggerPlaced: number
  readonly edit: EditReport
}

export const defaultPruneShare = 0.5

/**
 * The guide's rule, "the less you tag a feature, the more the trigger word learns it": finds the tags
 * most captions of a concept share (e.g. `pink hair` on a pink-haired character) and removes the chosen
 * ones, so that the trigger word absorbs those features. Without `remove` or `auto` it only reports.
 */
export const pruneConceptTags = (
  folder: string,
  options: PruneOptions,
): Effect.Effect<PruneReport, TaggerInputError | TaggerFileError> =>
  Effect.gen(function* () {
    const trigger = options.trigger.map((word) => word.trim()).filter((word) => word !== "")
    if (trigger.length === 0) {
      return yield* new TaggerInputError({
        message: "prune needs the LoRA's trigger word",
        option: "trigger",
      })
    }
    const minShare = options.minShare ?? defaultPruneShare
    if (!(minShare > 0 && minShare <= 1)) {
      return yield* new TaggerInputError({
        message: `the share must be between 0 and 100 %, got ${minShare * 100}`,
      })
    }
    const triggerKeys = new Set(trigger.map(tagKey))
    const keepKeys = new Set((options.keep ?? []).map(tagKey))
    const images = yield* readCaptionedImages(folder, options)
    const frequency = countTagFrequency(images)
    const candidates = frequency.concepts.map((group) => ({
      concept: group.concept,
      captioned: group.captioned,
      tags: group.tags.filter((count) => count.share >= minShare && !triggerKeys.has(tagKey(count.tag))),
    }))

    const named = (options.remove ?? []).filter((tag) => !triggerKeys.has(tagKey(tag)))
    const removalFor = new Map<string, ReadonlyArray<string>>()
    for (const group of candidates) {
      const auto = options.auto === true ? group.tags.map((count) => count.tag) : []
      removalFor.set(group.concept, [...named, ...auto.filter((tag) => !keepKeys.has(tagKey(tag)))])
    }
    const acting = named.length > 0 || options.auto === true

    const removedCounts = new Map<string, { concept: string; tag: string; count: number }>()
    let triggerPlaced = 0
    const changes: Array<CaptionChange> = []
    let captions = 0
    for (const image of images) {
      if (image.text === null) continue
      captions++
      if (!acting) continue
      const before = parseCaption(image.text)
      const removal = removalFor.get(image.concept) ?? []
      const pruned = removeTags(removal)(before)
      const after = moveToFront(trigger)(addTags(trigger, "front")(pruned))
      if (formatCaption(after) === formatCaption(before)) continue
      const kept = new Set(pruned.map(tagKey))
      const counted = new Set<string>()
      for (const tag of before) {
        if (kept.has(tagKey(tag)) || counted.has(tagKey(tag))) continue
        counted.add(tagKey(tag))
        const key = `${image.concept}\u0000${tagKey(tag)}`
        const entry = removedCounts.get(key)
        if (entry === undefined) removedCounts.set(key, { concept: image.concept, tag, count: 1 })
        else entry.count++
      }
      const triggerBefore = before.slice(0, trigger.length).map(tagKey)
      if (trigger.some((word, i) => triggerBefore[i] !== tagKey(word))) triggerPlaced++
      changes.push({ image, before, after })
    }

    const dryRun = options.dryRun === true
    if (!dryRun) yield* writeCaptionChanges(folder, `tags prune --trigger ${trigger.join(",")}`, changes)
    return {
      candidates,
      removed: [...removedCounts.values()],
      triggerPlaced,
      edit: { changes, captions, uncaptioned: images.length - captions, dryRun },
    }
  })
