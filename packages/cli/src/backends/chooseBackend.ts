import type { Backend } from "@danlu/core"
import { Effect, type Layer } from "effect"
import { UserError } from "../userError.js"
import { backendEntries } from "./registry.js"

/** The names `--backend` takes. */
export const backendNames = backendEntries.map((entry) => entry.name) as ReadonlyArray<string>

/** Loads the named backend's layer; a backend that cannot load is a one-line user error. */
export const chooseBackend = (name: string): Effect.Effect<Layer.Layer<Backend, unknown>, UserError> => {
  const entry = backendEntries.find((candidate) => candidate.name === name)
  if (entry === undefined)
    return Effect.fail(
      new UserError({ message: `unknown backend "${name}"; use one of ${backendNames.join(", ")}` }),
    )
  return Effect.tryPromise({
    try: entry.load,
    catch: (cause) =>
      new UserError({
        message: `the ${name} backend cannot load (${cause instanceof Error ? cause.message : String(cause)}); see danlu backends`,
      }),
  })
}
