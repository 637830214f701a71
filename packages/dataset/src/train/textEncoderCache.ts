import {
  Backend,
  type ClipTokenizer,
  type Conditioning,
  conditioningInputNames,
  conditioningInputs,
  conditioningValues,
  type DType,
  type HostTensor,
  hostTensor,
  type SdArchitecture,
  sdxlTextConditioning,
  sdxlVector,
  T,
  type Tensor,
  textConditioning,
  WeightScope,
} from "@danlu/core"
import { Effect } from "effect"

/** The step graph's inputs that replace the text encoders when their outputs are cached. */
export const cachedTextInputNames = { context: "context", pooled: "pooled" } as const

/** Each distinct caption's text-encoder outputs, computed once (kohya's `cache_text_encoder_outputs`). */
export interface TextEncoderCache {
  /** `[L, D]` of the cross-attention context. */
  readonly contextShape: readonly [number, number]
  /** Width of SDXL's pooled bigG output; undefined for SD1/SD2. */
  readonly pooledWidth: number | undefined
  readonly outputs: ReadonlyMap<string, { readonly context: Float32Array; readonly pooled?: Float32Array }>
}

/** The frozen text encoder(s) of one caption: the context and, for SDXL, the pooled output. */
const textOutputs = (
  architecture: SdArchitecture,
  clipSkip: number | undefined,
  storage: DType | undefined,
) => {
  const scope = WeightScope.root(storage === undefined ? {} : { storage })
  const inputs = conditioningInputs(architecture, 1)
  if (architecture.family !== "sdxl")
    return { context: textConditioning(scope, architecture, inputs, clipSkip).context }
  const [clipL, bigG] = architecture.text
  const [tokens, tokens2] = inputs.tokens
  const out = sdxlTextConditioning(
    scope,
    { clipL: clipL!, bigG: bigG! },
    tokens!,
    tokens2!,
    inputs.eos!,
    clipSkip ?? 2,
  )
  return { context: out.context, pooled: out.pooled }
}

/**
 * Encodes every distinct caption once with a compiled text-encoder program (released afterwards), as
 * kohya does when the text encoder is frozen and the captions never change.
 */
export const cacheTextEncoderOutputs = (
  architecture: SdArchitecture,
  tokenizer: ClipTokenizer,
  clipSkip: number | undefined,
  captions: Iterable<string>,
  readWeight: (key: string, shape: readonly number[], dtype: DType) => Effect.Effect<HostTensor, unknown>,
  /** dtype the encoder's weights are held in (mixed precision); f32 when undefined. */
  storage?: DType,
): Effect.Effect<TextEncoderCache, unknown, Backend> =>
  Effect.scoped(
    Effect.gen(function* () {
      const backend = yield* Backend
      const graph = textOutputs(architecture, clipSkip, storage)
      const program = yield* backend.compile({ outputs: graph, updates: {} })
      const states: Record<
        string,
        Awaited<ReturnType<typeof backend.upload>> extends never ? never : unknown
      > = {}
      for (const spec of program.states)
        states[spec.name] = yield* backend.upload(yield* readWeight(spec.name, spec.shape, spec.dtype))
      const outputs = new Map<string, { context: Float32Array; pooled?: Float32Array }>()
      const noSize = {
        originalSize: { width: 8, height: 8 },
        crop: { left: 0, top: 0 },
        targetSize: { width: 8, height: 8 },
      }
      for (const caption of captions) {
        if (outputs.has(caption)) continue
        const { [conditioningInputNames.sizes]: _sizes, ...text } = conditioningValues(
          tokenizer,
          architecture,
          [caption],
          [noSize],
        )
        const out = yield* program.run(text, states as never)
        outputs.set(caption, {
          context: Float32Array.from(out.context!.data as Float32Array),
          ...(out.pooled ? { pooled: Float32Array.from(out.pooled.data as Float32Array) } : {}),
        })
      }
      const [, length, width] = graph.context.shape as [number, number, number]
      return {
        contextShape: [length, width] as const,
        pooledWidth: graph.pooled?.shape[1],
        outputs,
      }
    }),
  )

/** A step graph's conditioning fed from the cache: the context, and SDXL's vector from pooled + sizes. */
export const cachedConditioning = (
  architecture: SdArchitecture,
  cache: TextEncoderCache,
  batch: number,
): Conditioning => {
  const context = T.input(cachedTextInputNames.context, [batch, ...cache.contextShape])
  if (architecture.family !== "sdxl") return { context, y: undefined }
  const pooled: Tensor = T.input(cachedTextInputNames.pooled, [batch, cache.pooledWidth!])
  return { context, y: sdxlVector(pooled, T.input(conditioningInputNames.sizes, [batch, 6])) }
}

/** The cached inputs of a batch: stacked contexts (and pooled outputs) of its captions. */
export const cachedTextInputs = (
  cache: TextEncoderCache,
  captions: ReadonlyArray<string>,
): Record<string, HostTensor> => {
  const [length, width] = cache.contextShape
  const context = new Float32Array(captions.length * length * width)
  const pooled = new Float32Array(cache.pooledWidth === undefined ? 0 : captions.length * cache.pooledWidth)
  captions.forEach((caption, i) => {
    const outputs = cache.outputs.get(caption)
    if (outputs === undefined)
      throw new RangeError(`no cached text-encoder output for the caption "${caption}"`)
    context.set(outputs.context, i * length * width)
    if (outputs.pooled) pooled.set(outputs.pooled, i * outputs.pooled.length)
  })
  return {
    [cachedTextInputNames.context]: hostTensor("f32", [captions.length, length, width], context),
    ...(cache.pooledWidth === undefined
      ? {}
      : { [cachedTextInputNames.pooled]: hostTensor("f32", [captions.length, cache.pooledWidth], pooled) }),
  }
}
