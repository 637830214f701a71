import { Effect } from "effect"
import { Flag } from "effect/cli"
import { UserError } from "../userError.js"

/**
 * kohya's name for it, in every command; `--caption-ext` is the name `tag` and `tags` were first
 * documented with, kept as an alias.
 */
export const captionExtensionFlag = Flag.String("caption-extension").pipe(
  Flag.withAlias("caption-ext"),
  Flag.withDescription("caption files next to the images (kohya's own default is .caption)"),
  Flag.withDefault(".txt"),
)

export const captionExtensionFrom = (text: string): Effect.Effect<string, UserError> =>
  /^\.[\w.-]+$/.test(text)
    ? Effect.succeed(text)
    : Effect.fail(
        new UserError({ message: `--caption-extension must start with a dot, like .txt, got "${text}"` }),
      )
