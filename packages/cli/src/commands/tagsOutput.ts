import { relative } from "node:path"
import {
  type CaptionChange,
  describeChange,
  type EditReport,
  type TagGroupFrequency,
  TaggerInputError,
} from "@danlu/tagger"
import { Console, Effect } from "effect"

/** `"pink hair, long hair"` and `pink_hair` `long hair` alike → `["pink hair", "long hair"]`. */
export const tagList = (values: ReadonlyArray<string>): Array<string> =>
  values
    .flatMap((value) => value.split(","))
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "")

/** A percentage flag (0–100] as a share (0–1]. */
export const percentShare = (flag: string, percent: number): Effect.Effect<number, TaggerInputError> =>
  percent > 0 && percent <= 100
    ? Effect.succeed(percent / 100)
    : Effect.fail(
        new TaggerInputError({ message: `--${flag} is a percentage between 0 and 100, got ${percent}` }),
      )

const changeLine = (folder: string, change: CaptionChange) =>
  `  ${relative(folder, change.image.caption)}: ${describeChange(change)}`

/** The diff of an edit and what happened, ending with how to undo it. */
export const printEditReport = (folder: string, report: EditReport, limit = 50) =>
  Effect.gen(function* () {
    const { changes } = report
    for (const change of changes.slice(0, limit)) yield* Console.log(changeLine(folder, change))
    if (limit > 0 && changes.length > limit) yield* Console.log(`  … and ${changes.length - limit} more`)
    const uncaptioned = report.uncaptioned > 0 ? ` (${report.uncaptioned} images have no caption)` : ""
    if (report.dryRun) {
      yield* Console.log(
        `dry run: ${changes.length} of ${report.captions} captions would change${uncaptioned}`,
      )
    } else if (changes.length === 0) {
      yield* Console.log(`no caption changed (${report.captions} read)${uncaptioned}`)
    } else {
      yield* Console.log(
        `${changes.length} of ${report.captions} captions changed${uncaptioned}; undo with: danlu tags undo ${folder}`,
      )
    }
  })

export const percent = (share: number) => `${Math.round(share * 100)}%`

/** A frequency table: count, share and tag, most frequent first. */
export const printFrequency = (group: TagGroupFrequency, top: number) =>
  Effect.gen(function* () {
    yield* Console.log(`${group.concept}: ${group.captioned} captions, ${group.images} images`)
    const width = String(group.tags[0]?.count ?? 0).length
    for (const tag of group.tags.slice(0, top)) {
      yield* Console.log(
        `  ${String(tag.count).padStart(width)}  ${percent(tag.share).padStart(4)}  ${tag.tag}`,
      )
    }
    if (group.tags.length > top)
      yield* Console.log(`  … ${group.tags.length - top} more tags (--top to show more)`)
  })
