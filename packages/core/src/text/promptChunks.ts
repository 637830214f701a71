import {
  CLIP_CONTEXT_LENGTH,
  CLIP_END_OF_TEXT,
  CLIP_START_OF_TEXT,
  type ClipPadding,
  type ClipTokenizer,
  padId,
} from "./clipTokenizer.js"
import { isChunkBreak, type PromptPiece, parsePromptAttention } from "./promptAttention.js"

/**
 * A1111's long-prompt handling (`modules/sd_hijack_clip.py` tokenize_line): a prompt of any length
 * becomes one or more 77-token chunks, each start + 75 tokens + end, which the text encoder encodes
 * separately and the UNet sees concatenated (77 * k context positions).
 *
 * - A chunk that fills up ends there, except that when the last comma lies within the last
 *   `commaBacktrack` (A1111 default 20) tokens, the words after it move to the next chunk, so a
 *   comma-separated tag is not cut in two.
 * - BREAK ends the chunk at once; a short chunk is padded with end tokens (weight 1).
 * - Padding for SD2-style encoders: every id after the first end token becomes 0.
 */

/** Tokens of prompt text per chunk. */
export const CHUNK_TOKENS = CLIP_CONTEXT_LENGTH - 2

/** `,</w>`, the token comma backtracking looks for. */
export const CLIP_COMMA = 267

export interface PromptChunk {
  /** 77 token ids: start, 75 prompt or padding ids, end. */
  readonly ids: Int32Array
  /** 77 emphasis weights, 1 for start, end and padding. */
  readonly weights: Float32Array
}

export interface TokenizedPrompt {
  readonly chunks: ReadonlyArray<PromptChunk>
  /** A1111's count of prompt tokens (the "42/75" it shows): 75 per full chunk plus the last one's. */
  readonly tokenCount: number
}

export interface PromptChunkOptions {
  readonly pad: ClipPadding
  /** Parse `(word:1.2)`, `[word]` and BREAK (A1111 emphasis "Original"); false reads the prompt as plain text. */
  readonly emphasis?: boolean
  /** How far back (in tokens) a full chunk looks for a comma to break at; 0 turns it off. */
  readonly commaBacktrack?: number
}

export const DEFAULT_COMMA_BACKTRACK = 20

export const chunkPrompt = (
  tokenizer: ClipTokenizer,
  prompt: string,
  options: PromptChunkOptions,
): TokenizedPrompt => {
  const backtrack = options.commaBacktrack ?? DEFAULT_COMMA_BACKTRACK
  const pieces: ReadonlyArray<PromptPiece> =
    (options.emphasis ?? true) ? parsePromptAttention(prompt) : [{ text: prompt, weight: 1 }]

  const chunks: PromptChunk[] = []
  let ids: number[] = []
  let weights: number[] = []
  let tokenCount = 0
  let lastComma = -1

  const closeChunk = (isLast: boolean): void => {
    tokenCount += isLast ? ids.length : CHUNK_TOKENS
    const chunkIds = new Int32Array(CLIP_CONTEXT_LENGTH).fill(CLIP_END_OF_TEXT)
    const chunkWeights = new Float32Array(CLIP_CONTEXT_LENGTH).fill(1)
    chunkIds[0] = CLIP_START_OF_TEXT
    chunkIds.set(ids, 1)
    chunkWeights.set(weights, 1)
    const pad = padId(options.pad)
    if (pad !== CLIP_END_OF_TEXT) chunkIds.fill(pad, chunkIds.indexOf(CLIP_END_OF_TEXT) + 1)
    chunks.push({ ids: chunkIds, weights: chunkWeights })
    ids = []
    weights = []
    lastComma = -1
  }

  for (const piece of pieces) {
    if (isChunkBreak(piece)) {
      closeChunk(false)
      continue
    }
    for (const token of tokenizer.encode(piece.text)) {
      if (token === CLIP_COMMA) {
        lastComma = ids.length
      } else if (
        backtrack !== 0 &&
        ids.length === CHUNK_TOKENS &&
        lastComma !== -1 &&
        ids.length - lastComma <= backtrack
      ) {
        const movedIds = ids.slice(lastComma + 1)
        const movedWeights = weights.slice(lastComma + 1)
        ids = ids.slice(0, lastComma + 1)
        weights = weights.slice(0, lastComma + 1)
        closeChunk(false)
        ids = movedIds
        weights = movedWeights
      }
      if (ids.length === CHUNK_TOKENS) closeChunk(false)
      ids.push(token)
      weights.push(piece.weight)
    }
  }
  if (ids.length > 0 || chunks.length === 0) closeChunk(true)
  return { chunks, tokenCount }
}
