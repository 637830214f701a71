import { OptimizerConfigError } from "./errors.js"

/** A Python literal as `ast.literal_eval` reads it from one `key=value` of kohya's `optimizer_args`. */
export type PyValue = number | boolean | string | null | ReadonlyArray<PyValue>

class LiteralSyntax extends Error {}

/** Reads the subset of Python literals that optimizer arguments use: numbers, True/False/None, quoted strings, tuples, lists. */
export const parsePyLiteral = (text: string): PyValue => {
  let at = 0
  const skipSpace = () => {
    while (at < text.length && /\s/.test(text[at]!)) at++
  }
  const value = (): PyValue => {
    skipSpace()
    const c = text[at]
    if (c === "(" || c === "[") {
      const close = c === "(" ? ")" : "]"
      at++
      const items: Array<PyValue> = []
      let trailingComma = false
      skipSpace()
      while (text[at] !== close) {
        items.push(value())
        skipSpace()
        trailingComma = text[at] === ","
        if (trailingComma) at++
        else if (text[at] !== close) throw new LiteralSyntax()
        skipSpace()
      }
      at++
      // "(x)" is x itself in Python; only "(x,)" is a one-tuple.
      return c === "(" && items.length === 1 && !trailingComma ? items[0]! : items
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, at + 1)
      if (end < 0) throw new LiteralSyntax()
      const s = text.slice(at + 1, end)
      at = end + 1
      return s
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at))?.[0]
    if (word !== undefined) {
      at += word.length
      if (word === "True") return true
      if (word === "False") return false
      if (word === "None") return null
      throw new LiteralSyntax()
    }
    const number = /^[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?/.exec(text.slice(at))?.[0]
    if (number === undefined) throw new LiteralSyntax()
    at += number.length
    return Number(number.replaceAll("_", ""))
  }
  const first = value()
  skipSpace()
  if (at === text.length) return first
  // A bare comma list ("0.9,0.99") is a tuple, as literal_eval reads it.
  const items = [first]
  while (text[at] === ",") {
    at++
    skipSpace()
    if (at === text.length) return items
    items.push(value())
    skipSpace()
  }
  if (at !== text.length) throw new LiteralSyntax()
  return items
}

const describe = (value: PyValue): string =>
  value === null
    ? "None"
    : typeof value === "boolean"
      ? value
        ? "True"
        : "False"
      : typeof value === "string"
        ? `'${value}'`
        : typeof value === "number"
          ? String(value)
          : `(${value.map(describe).join(", ")})`

/**
 * kohya's `optimizer_args` read for one optimizer: each "key=value" split at "=" and the value read as a
 * Python literal. Every getter names the key and the accepted form when the value does not fit; `done`
 * refuses keys no getter asked for (torch raises on unexpected keyword arguments the same way).
 */
export class OptimizerArgs {
  private readonly values = new Map<string, PyValue>()
  private readonly read = new Set<string>()

  constructor(
    readonly optimizer: string,
    args: ReadonlyArray<string>,
  ) {
    for (const arg of args) {
      const eq = arg.indexOf("=")
      if (eq < 0) throw new OptimizerConfigError({ optimizer, argument: arg, detail: 'expected "key=value"' })
      const key = arg.slice(0, eq).trim()
      const text = arg.slice(eq + 1).trim()
      try {
        this.values.set(key, parsePyLiteral(text))
      } catch (e) {
        if (!(e instanceof LiteralSyntax)) throw e
        throw new OptimizerConfigError({
          optimizer,
          argument: key,
          detail: `"${text}" is not a Python literal (numbers, True, False, None, tuples like (0.9,0.99))`,
        })
      }
    }
  }

  private fail(key: string, expected: string, value: PyValue): never {
    throw new OptimizerConfigError({
      optimizer: this.optimizer,
      argument: key,
      detail: `expected ${expected}, got ${describe(value)}`,
    })
  }

  private take(key: string): PyValue | undefined {
    this.read.add(key)
    return this.values.get(key)
  }

  number(
    key: string,
    fallback: number,
    check?: { readonly min?: number; readonly max?: number; readonly integer?: boolean },
  ): number {
    const value = this.take(key)
    if (value === undefined) return fallback
    const kind = check?.integer ? "an integer" : "a number"
    const range = `${kind}${check?.min === undefined ? "" : ` ≥ ${check.min}`}${check?.max === undefined ? "" : ` ≤ ${check.max}`}`
    if (typeof value !== "number" || Number.isNaN(value) || (check?.integer && !Number.isInteger(value)))
      return this.fail(key, range, value)
    if ((check?.min !== undefined && value < check.min) || (check?.max !== undefined && value > check.max))
      return this.fail(key, range, value)
    return value
  }

  numberOrNone(key: string, fallback: number | null): number | null {
    const value = this.take(key)
    if (value === undefined) return fallback
    if (value === null || typeof value === "number") return value
    return this.fail(key, "a number or None", value)
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.take(key)
    if (value === undefined) return fallback
    if (typeof value === "boolean") return value
    return this.fail(key, "True or False", value)
  }

  pair(key: string, fallback: readonly [number, number]): readonly [number, number] {
    const value = this.take(key)
    if (value === undefined) return fallback
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "number"))
      return [value[0] as number, value[1] as number]
    return this.fail(key, "a pair of numbers like (0.9,0.999)", value)
  }

  /** Refuses any key that was given but never read. */
  done(): void {
    const accepted = [...this.read].sort()
    for (const key of this.values.keys()) {
      if (!this.read.has(key))
        throw new OptimizerConfigError({
          optimizer: this.optimizer,
          argument: key,
          detail: `unknown argument; accepted: ${accepted.join(", ")}`,
        })
    }
  }
}
