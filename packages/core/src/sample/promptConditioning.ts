import type { Graph } from "../graph/graph.js"
import { div, mul } from "../ops/elementwise.js"
import { reshape } from "../ops/movement.js"
import { mean } from "../ops/reduce.js"
import { input } from "../ops/sources.js"
import { type HostTensor, hostTensor } from "../tensor/hostTensor.js"
import type { Tensor } from "../tensor/tensor.js"
import { CLIP_CONTEXT_LENGTH, type TokenizedPrompt } from "../text/index.js"

/** Encodes token chunks `[k, 77]` i32 to hidden states `[k, 77, D]`, e.g. `sd1TextConditioning` with clip skip. */
export type TextEncoderBuilder = (tokens: Tensor) => Tensor

/** The names a prompt-conditioning program's inputs and output carry. */
export const promptConditioningNames = {
  tokens: "prompt_tokens",
  weights: "prompt_weights",
  conditioning: "conditioning",
} as const

/**
 * A1111's emphasis ("Original", `sd_emphasis.EmphasisOriginal`) on encoded chunks: each chunk's hidden
 * states are multiplied by their tokens' weights and rescaled so the chunk's mean is what it was before;
 * the chunks are then laid side by side, `[k, 77, D]` → `[1, k·77, D]` (`torch.hstack` of the chunks).
 */
export const weightedChunks = (hidden: Tensor, weights: Tensor): Tensor => {
  const [chunks, length, width] = hidden.shape as [number, number, number]
  const before = mean(hidden, [1, 2], true)
  const weighted = mul(hidden, reshape(weights, [chunks, length, 1]))
  const after = mean(weighted, [1, 2], true)
  return reshape(mul(weighted, div(before, after)), [1, chunks * length, width])
}

export interface PromptConditioningGraph {
  readonly inputs: { readonly tokens: Tensor; readonly weights: Tensor }
  /** `[1, chunks · 77, D]`. */
  readonly conditioning: Tensor
  readonly graph: Graph
}

/**
 * A prompt's text conditioning as A1111 computes it (`sd_hijack_clip.py`): every 77-token chunk is encoded
 * on its own (here as one batch of chunks, which is the same), weighted, mean-restored and concatenated.
 * Tokens and weights are inputs, so one program serves every prompt with the same number of chunks.
 */
export const promptConditioningGraph = (
  encode: TextEncoderBuilder,
  chunks: number,
): PromptConditioningGraph => {
  const tokens = input(promptConditioningNames.tokens, [chunks, CLIP_CONTEXT_LENGTH], "i32")
  const weights = input(promptConditioningNames.weights, [chunks, CLIP_CONTEXT_LENGTH])
  const conditioning = weightedChunks(encode(tokens), weights)
  return {
    inputs: { tokens, weights },
    conditioning,
    graph: { outputs: { [promptConditioningNames.conditioning]: conditioning } },
  }
}

/** A tokenized prompt (`chunkPrompt`) as the inputs of its `promptConditioningGraph`. */
export const promptConditioningInputs = (
  prompt: TokenizedPrompt,
): { prompt_tokens: HostTensor<"i32">; prompt_weights: HostTensor<"f32"> } => {
  const k = prompt.chunks.length
  const tokens = new Int32Array(k * CLIP_CONTEXT_LENGTH)
  const weights = new Float32Array(k * CLIP_CONTEXT_LENGTH)
  prompt.chunks.forEach((chunk, i) => {
    tokens.set(chunk.ids, i * CLIP_CONTEXT_LENGTH)
    weights.set(chunk.weights, i * CLIP_CONTEXT_LENGTH)
  })
  return {
    prompt_tokens: hostTensor("i32", [k, CLIP_CONTEXT_LENGTH], tokens),
    prompt_weights: hostTensor("f32", [k, CLIP_CONTEXT_LENGTH], weights),
  }
}
