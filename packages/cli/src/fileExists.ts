import { stat } from "node:fs/promises"
import { Effect } from "effect"

/** Whether a path exists (file or folder); unreadable counts as absent. */
export const exists = (path: string): Effect.Effect<boolean> =>
  Effect.promise(() =>
    stat(path).then(
      () => true,
      () => false,
    ),
  )
