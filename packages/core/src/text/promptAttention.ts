import { Data } from "effect"

/**
 * A1111's prompt emphasis syntax (`modules/prompt_parser.py` parse_prompt_attention), reproduced rule
 * for rule so that a prompt weighs the same here as in the WebUI, quirks included:
 *
 * - `(text)` multiplies by 1.1, `[text]` divides by 1.1, `(text:1.5)` multiplies by 1.5; nesting
 *   multiplies.
 * - `\(` `\)` `\[` `\]` `\\` are literal characters; a lone `\` vanishes.
 * - Brackets left open are closed at the end of the prompt; a closing bracket with nothing open, and a
 *   `:` that is not a weight, are plain text.
 * - `BREAK` (upper case, a word of its own) ends the current 75-token chunk. Inside brackets its marker
 *   is multiplied like everything else and A1111 then treats it as the word "break"; so does this.
 * - Neighbouring pieces of equal weight are merged.
 */

/** A run of prompt text and its weight (A1111's "multiplier"). */
export interface PromptPiece {
  readonly text: string
  readonly weight: number
}

/** The weight A1111 gives a BREAK marker; a piece is a chunk break only while it still has it. */
export const BREAK_WEIGHT = -1

export const isChunkBreak = (piece: PromptPiece): boolean =>
  piece.text === "BREAK" && piece.weight === BREAK_WEIGHT

const ROUND_MULTIPLIER = 1.1
const SQUARE_MULTIPLIER = 1 / 1.1

const ATTENTION_TOKEN = /\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:([+-]?[.\d]+)\)|\)|\]|[^\\()[\]:]+|:/gu
// Python's `\bBREAK\b` with Unicode word characters (letters, numbers, underscore).
const PY_SPACE =
  "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*"
const BREAK_SEPARATOR = new RegExp(`${PY_SPACE}(?<![\\p{L}\\p{N}_])BREAK(?![\\p{L}\\p{N}_])${PY_SPACE}`, "u")

// Python's float() on A1111's `[+-]?[.\d]+`: "1.", ".5", "+2" parse; "." or "1.2.3" do not.
const parseWeight = (text: string): number | undefined =>
  /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : undefined

export const parsePromptAttention = (prompt: string): PromptPiece[] => {
  const pieces: Array<{ text: string; weight: number }> = []
  const roundOpen: number[] = []
  const squareOpen: number[] = []
  const multiplyFrom = (start: number, multiplier: number): void => {
    for (let i = start; i < pieces.length; i++) pieces[i]!.weight *= multiplier
  }
  const pushText = (text: string): void => {
    text.split(BREAK_SEPARATOR).forEach((part, i) => {
      if (i > 0) pieces.push({ text: "BREAK", weight: BREAK_WEIGHT })
      pieces.push({ text: part, weight: 1 })
    })
  }

  for (const match of prompt.matchAll(ATTENTION_TOKEN)) {
    const token = match[0]
    const weightText = match[1]
    const weight = weightText === undefined ? undefined : parseWeight(weightText)
    if (token.startsWith("\\")) {
      pieces.push({ text: token.slice(1), weight: 1 })
    } else if (token === "(") {
      roundOpen.push(pieces.length)
    } else if (token === "[") {
      squareOpen.push(pieces.length)
    } else if (weightText !== undefined && roundOpen.length > 0) {
      if (weight === undefined) {
        throw new PromptSyntaxError({
          message: `"${weightText}" in "${token}" is not a number; write a weight like (word:1.2)`,
        })
      }
      multiplyFrom(roundOpen.pop()!, weight)
    } else if (token === ")" && roundOpen.length > 0) {
      multiplyFrom(roundOpen.pop()!, ROUND_MULTIPLIER)
    } else if (token === "]" && squareOpen.length > 0) {
      multiplyFrom(squareOpen.pop()!, SQUARE_MULTIPLIER)
    } else {
      pushText(token)
    }
  }
  for (const start of roundOpen) multiplyFrom(start, ROUND_MULTIPLIER)
  for (const start of squareOpen) multiplyFrom(start, SQUARE_MULTIPLIER)

  if (pieces.length === 0) return [{ text: "", weight: 1 }]
  const merged: Array<{ text: string; weight: number }> = [pieces[0]!]
  for (const piece of pieces.slice(1)) {
    const last = merged[merged.length - 1]!
    if (last.weight === piece.weight) last.text += piece.text
    else merged.push(piece)
  }
  return merged
}

/** A weight in a prompt that A1111 would fail on too, e.g. `(word:1.2.3)`. */
export class PromptSyntaxError extends Data.TaggedError("PromptSyntaxError")<{ readonly message: string }> {}
