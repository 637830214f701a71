import { Console, Layer } from "effect"
import { CliOutput } from "effect/cli"

/**
 * effect/cli prints a command's whole help page before a flag error (an unknown choice, a missing
 * required flag, a value that does not parse). danlu's rule is one plain line per user error, so the
 * help page printed just before such an error is held back and the error becomes `danlu: <message>`.
 * `--help` still prints the page: a held page is printed at the end of the current tick unless an error
 * report cancels it (the two are printed in the same synchronous step).
 */
export const oneLineErrors = (): Layer.Layer<never> => {
  const base = CliOutput.defaultFormatter()
  const helpPages = new Set<string>()
  let held: string | undefined
  const formatter: CliOutput.Formatter = {
    ...base,
    formatHelpDoc: (doc) => {
      const page = base.formatHelpDoc(doc)
      helpPages.add(page)
      return page
    },
    formatErrors: (errors) => {
      held = undefined
      return errors.map((error) => `danlu: ${error.message}`).join("\n")
    },
  }
  const console: Console.Console = Object.assign(Object.create(globalThis.console) as Console.Console, {
    log: (...args: ReadonlyArray<unknown>) => {
      const [first] = args
      if (args.length === 1 && typeof first === "string" && helpPages.has(first)) {
        held = first
        queueMicrotask(() => {
          if (held === first) globalThis.console.log(first)
          held = undefined
        })
      } else {
        globalThis.console.log(...args)
      }
    },
  })
  return Layer.mergeAll(CliOutput.layer(formatter), Layer.succeed(Console.Console, console))
}
