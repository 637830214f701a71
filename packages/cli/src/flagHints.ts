import type { DatasetProblem } from "@danlu/dataset"
import type { TaggerOption } from "@danlu/tagger"

const datasetFixes: Readonly<Record<DatasetProblem, string>> = {
  "output-inside-source": "choose another --out",
  "output-not-prepared": "choose a new or empty --out folder",
  "captions-changed": "pass --force to replace them, or choose a new --out",
}

const taggerFixes: Readonly<Record<TaggerOption, string>> = {
  model: "pass its path with --model",
  tags: "pass it with --tags",
  trigger: "give it with --trigger <word>",
  recursive: "add --recursive to include them",
  embedder: "pass its path with --embedder",
}

/** The flag that fixes a library error, from its tag and structured fields; undefined when none does. */
const flagFor = (error: { readonly _tag: string }): string | undefined => {
  const fields = error as { readonly problem?: DatasetProblem; readonly option?: TaggerOption }
  switch (error._tag) {
    case "OutputExists":
      return "pass --force to replace it (the old file is kept as a backup)"
    case "ExecutionProviderUnavailable":
      return "use --provider cpu"
    case "DatasetError":
      return fields.problem === undefined ? undefined : datasetFixes[fields.problem]
    case "TaggerInputError":
      return fields.option === undefined ? undefined : taggerFixes[fields.option]
    default:
      return undefined
  }
}

/**
 * Library errors say what is wrong; the CLI adds the flag that fixes it. The error keeps its tag and
 * fields (it is the original, seen through an object whose own `message` ends with the flag).
 */
export const withFlagHint = <E>(error: E): E => {
  if (typeof error !== "object" || error === null || !("_tag" in error) || typeof error._tag !== "string")
    return error
  const flag = flagFor(error as { readonly _tag: string })
  if (flag === undefined) return error
  const message = (error as { readonly message?: unknown }).message
  return Object.create(error, { message: { value: `${String(message)}; ${flag}`, enumerable: true } }) as E
}
