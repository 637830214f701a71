import { readFile } from "node:fs/promises"
import { Effect } from "effect"
import { TaggerInputError } from "../errors.js"
import { parseSelectedTags, type TagLabels } from "../labels/selectedTags.js"

/** Reads a tagger's `selected_tags.csv`. */
export const loadTagLabels = (path: string): Effect.Effect<TagLabels, TaggerInputError> =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: () =>
      new TaggerInputError({
        message: `tag list not found: ${path} (the selected_tags.csv that came with the model)`,
        option: "tags",
      }),
  }).pipe(
    Effect.flatMap((text) =>
      Effect.try({
        try: () => parseSelectedTags(text, path),
        catch: (error) =>
          error instanceof TaggerInputError
            ? error
            : new TaggerInputError({ message: `${path}: ${String(error)}` }),
      }),
    ),
  )
