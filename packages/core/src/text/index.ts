export {
  CLIP_CONTEXT_LENGTH,
  CLIP_END_OF_TEXT,
  CLIP_START_OF_TEXT,
  CLIP_VOCABULARY_SIZE,
  type ClipPadding,
  ClipTokenizer,
  clipTokenizer,
  loadClipTokenizer,
  padId,
} from "./clipTokenizer.js"
export {
  BREAK_WEIGHT,
  isChunkBreak,
  type PromptPiece,
  PromptSyntaxError,
  parsePromptAttention,
} from "./promptAttention.js"
export {
  CHUNK_TOKENS,
  CLIP_COMMA,
  chunkPrompt,
  DEFAULT_COMMA_BACKTRACK,
  type PromptChunk,
  type PromptChunkOptions,
  type TokenizedPrompt,
} from "./promptChunks.js"
export { cleanPromptText, fixTextLite, htmlUnescape } from "./textCleanup.js"
