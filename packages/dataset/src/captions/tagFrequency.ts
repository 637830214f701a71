/** Tags counted once per caption, most frequent first (ties by name), for the check report. */
export const tagFrequency = (
  captions: ReadonlyArray<string>,
  separator = ",",
): ReadonlyArray<{ readonly tag: string; readonly count: number }> => {
  const counts = new Map<string, number>()
  for (const caption of captions) {
    const tags = new Set(
      caption
        .split(separator)
        .map((tag) => tag.trim())
        .filter((tag) => tag !== ""),
    )
    for (const tag of tags) counts.set(tag, (counts.get(tag) ?? 0) + 1)
  }
  return [...counts.entries()]
    .map(([tag, count]) => ({ tag, count }))
    .sort((a, b) => b.count - a.count || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))
}
