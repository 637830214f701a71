import { TaggerInputError } from "../errors.js"
import { parseCsv } from "./csv.js"

/** How a WD1.4 tagger groups its outputs; the codes are the `category` column of `selected_tags.csv`. */
export type TagCategory = "rating" | "general" | "character"

export interface TagLabel {
  /** The tag as written in the CSV, with underscores (`long_hair`). */
  readonly name: string
  readonly category: TagCategory
  /** Row index, which is also the index of the tag's probability in the model output. */
  readonly index: number
}

export interface TagLabels {
  readonly labels: ReadonlyArray<TagLabel>
  readonly ratings: ReadonlyArray<TagLabel>
}

const categoryOfCode = (code: number): TagCategory =>
  code === 9 ? "rating" : code === 4 ? "character" : "general"

/**
 * Reads `selected_tags.csv` (`tag_id,name,category,count`). Categories other than rating (9) and
 * character (4) — e.g. the copyright or artist columns of some e621 taggers — are thresholded as general.
 */
export const parseSelectedTags = (text: string, source = "selected_tags.csv"): TagLabels => {
  const rows = parseCsv(text)
  const header = rows[0]?.map((field) => field.trim().toLowerCase())
  const nameColumn = header?.indexOf("name") ?? -1
  const categoryColumn = header?.indexOf("category") ?? -1
  if (header === undefined || nameColumn < 0 || categoryColumn < 0) {
    throw new TaggerInputError({
      message: `${source} is not a WD1.4 tag list: its first line must be the header "tag_id,name,category,count"`,
    })
  }
  const labels: Array<TagLabel> = []
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r]!
    const name = row[nameColumn]?.trim() ?? ""
    const code = Number(row[categoryColumn])
    if (name === "" || !Number.isInteger(code)) {
      throw new TaggerInputError({
        message: `${source} line ${r + 1} has no tag name or a non-numeric category; expected "tag_id,name,category,count"`,
      })
    }
    labels.push({ name, category: categoryOfCode(code), index: labels.length })
  }
  if (labels.length === 0) throw new TaggerInputError({ message: `${source} has a header but no tags` })
  return { labels, ratings: labels.filter((label) => label.category === "rating") }
}
