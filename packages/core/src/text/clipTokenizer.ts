import { Effect } from "effect"
import { cleanPromptText } from "./textCleanup.js"

/**
 * OpenAI CLIP's byte-level BPE tokenizer (`clip/simple_tokenizer.py`), the one SD1 (CLIP ViT-L/14),
 * SD2 (OpenCLIP ViT-H/14) and SDXL (both) were trained with. Ids match OpenAI's for any text that
 * `textCleanup.ts` cleans the way ftfy would.
 */

export const CLIP_START_OF_TEXT = 49406
export const CLIP_END_OF_TEXT = 49407
export const CLIP_VOCABULARY_SIZE = 49408
/** Positions the text encoders see: start, 75 tokens, end. */
export const CLIP_CONTEXT_LENGTH = 77

const END_OF_WORD = "</w>"

// Case-insensitive as in the reference; digits are single tokens, letters run together, any other run
// of non-space characters is one pre-token. The text is already whitespace-cleaned, so `\s` only meets
// plain spaces here.
const PRE_TOKEN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu

/**
 * GPT-2's reversible byte -> printable character table. Printable Latin-1 bytes stand for themselves;
 * the other 68 bytes take the characters from U+0100 on, in byte order. The vocabulary lists these
 * characters in this order: printable bytes first, then the rest.
 */
const byteCharacters = (): {
  readonly encoder: ReadonlyArray<string>
  readonly vocabularyOrder: string[]
} => {
  const printable: number[] = []
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b)
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b)
  for (let b = 0xae; b <= 0xff; b++) printable.push(b)
  const encoder = new Array<string>(256)
  const vocabularyOrder: string[] = []
  const assign = (b: number, c: string): void => {
    encoder[b] = c
    vocabularyOrder.push(c)
  }
  for (const b of printable) assign(b, String.fromCharCode(b))
  let next = 0
  for (let b = 0; b < 256; b++) {
    if (encoder[b] === undefined) assign(b, String.fromCharCode(256 + next++))
  }
  return { encoder, vocabularyOrder }
}

const utf8 = new TextEncoder()

export class ClipTokenizer {
  readonly #byteEncoder: ReadonlyArray<string>
  readonly #ids: ReadonlyMap<string, number>
  readonly #tokens: ReadonlyArray<string>
  readonly #ranks: ReadonlyMap<string, number>
  readonly #cache = new Map<string, ReadonlyArray<number>>()

  /** Builds the tokenizer from the merges text, one "left right" pair per line, in rank order. */
  constructor(merges: string) {
    const { encoder, vocabularyOrder } = byteCharacters()
    const pairs = merges.split("\n")
    if (pairs.length !== CLIP_VOCABULARY_SIZE - 2 * 256 - 2) {
      throw new Error(`CLIP needs ${CLIP_VOCABULARY_SIZE - 2 * 256 - 2} merges, got ${pairs.length}`)
    }
    const tokens = [...vocabularyOrder, ...vocabularyOrder.map((c) => c + END_OF_WORD)]
    const ranks = new Map<string, number>()
    pairs.forEach((pair, rank) => {
      ranks.set(pair, rank)
      tokens.push(pair.replace(" ", ""))
    })
    tokens.push("<|startoftext|>", "<|endoftext|>")
    this.#byteEncoder = encoder
    this.#tokens = tokens
    this.#ranks = ranks
    this.#ids = new Map(tokens.map((token, id) => [token, id]))
  }

  /** The ids of a text without start/end tokens, after OpenAI's clean-up and lower-casing. */
  encode(text: string): number[] {
    const ids: number[] = []
    for (const match of cleanPromptText(text).matchAll(PRE_TOKEN)) {
      ids.push(...this.#encodePreToken(match[0]))
    }
    return ids
  }

  /** Token strings for ids, `</w>` kept: useful to see how a prompt was split. */
  tokenStrings(ids: ReadonlyArray<number>): string[] {
    return ids.map((id) => {
      const token = this.#tokens[id]
      if (token === undefined)
        throw new RangeError(`${id} is not a CLIP token id (0..${CLIP_VOCABULARY_SIZE - 1})`)
      return token
    })
  }

  /** Text for ids, as OpenAI's decode: bytes back to UTF-8, `</w>` as a space. */
  decode(ids: ReadonlyArray<number>): string {
    const byteOf = new Map(this.#byteEncoder.map((c, b) => [c, b]))
    const bytes: number[] = []
    for (const token of this.tokenStrings(ids)) {
      if (token === "<|startoftext|>" || token === "<|endoftext|>") {
        bytes.push(...utf8.encode(token))
        continue
      }
      const body = token.endsWith(END_OF_WORD) ? token.slice(0, -END_OF_WORD.length) : token
      for (const c of body) bytes.push(byteOf.get(c)!)
      if (body !== token) bytes.push(0x20)
    }
    return new TextDecoder().decode(Uint8Array.from(bytes)).replace(/ $/, "")
  }

  /** The one-chunk encoding the original pipelines use: start, up to 75 tokens, end, padding to 77. */
  encodeForContext(text: string, options: { readonly pad: ClipPadding }): Int32Array {
    const ids = this.encode(text).slice(0, CLIP_CONTEXT_LENGTH - 2)
    const out = new Int32Array(CLIP_CONTEXT_LENGTH).fill(padId(options.pad))
    out[0] = CLIP_START_OF_TEXT
    out.set(ids, 1)
    out[ids.length + 1] = CLIP_END_OF_TEXT
    return out
  }

  #encodePreToken(preToken: string): ReadonlyArray<number> {
    const cached = this.#cache.get(preToken)
    if (cached !== undefined) return cached
    let symbols: string[]
    if (preToken === "<|startoftext|>" || preToken === "<|endoftext|>") {
      symbols = [preToken]
    } else {
      const chars = Array.from(utf8.encode(preToken), (b) => this.#byteEncoder[b]!)
      chars[chars.length - 1] += END_OF_WORD
      symbols = this.#merge(chars)
    }
    const ids = symbols.map((symbol) => this.#ids.get(symbol)!)
    // Prompts repeat a small working vocabulary; a bound keeps a long-lived tokenizer from growing.
    if (this.#cache.size > 50_000) this.#cache.clear()
    this.#cache.set(preToken, ids)
    return ids
  }

  /** Standard BPE: merge the lowest-ranked adjacent pair, all its occurrences, until none is known. */
  #merge(symbols: string[]): string[] {
    while (symbols.length > 1) {
      let bestRank = Number.POSITIVE_INFINITY
      let best = ""
      for (let i = 0; i + 1 < symbols.length; i++) {
        const pair = `${symbols[i]} ${symbols[i + 1]}`
        const rank = this.#ranks.get(pair)
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank
          best = pair
        }
      }
      if (bestRank === Number.POSITIVE_INFINITY) break
      const merged: string[] = []
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && `${symbols[i]} ${symbols[i + 1]}` === best) {
          merged.push(symbols[i]! + symbols[i + 1]!)
          i++
        } else {
          merged.push(symbols[i]!)
        }
      }
      symbols = merged
    }
    return symbols
  }
}

/**
 * What fills the positions after the end token. SD1's CLIP-L (and SDXL's CLIP-L) pads with the end
 * token itself; SD2's OpenCLIP-H and SDXL's OpenCLIP-G pad with id 0.
 */
export type ClipPadding = "end-of-text" | "zero"

export const padId = (pad: ClipPadding): number => (pad === "zero" ? 0 : CLIP_END_OF_TEXT)

let loading: Promise<ClipTokenizer> | undefined

/**
 * The tokenizer with CLIP's real vocabulary. The 0.5 MB merges table is imported on the first call
 * only, so importing core costs nothing until a prompt is tokenized; later calls share one instance.
 */
export const loadClipTokenizer = (): Promise<ClipTokenizer> => {
  loading ??= import("./clipBpeMerges.js").then((data) => new ClipTokenizer(data.default))
  return loading
}

/** `loadClipTokenizer` as an Effect. */
export const clipTokenizer: Effect.Effect<ClipTokenizer> = Effect.promise(loadClipTokenizer)
