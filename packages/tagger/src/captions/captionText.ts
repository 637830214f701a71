/** Splits a caption file into tags: comma- or newline-separated, trimmed, empty entries dropped. */
export const parseCaption = (text: string): Array<string> =>
  text
    .split(/[,\n\r]/)
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "")

/** Joins tags the way kohya's scripts write them (`--caption_separator ", "`). */
export const formatCaption = (tags: ReadonlyArray<string>): string => tags.join(", ")

/** Keeps the first occurrence of each tag. */
export const dedupeTags = (tags: ReadonlyArray<string>): Array<string> => [...new Set(tags)]
