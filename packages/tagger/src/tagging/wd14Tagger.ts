import { Context, Effect, Layer, type Scope } from "effect"
import type { ExecutionProviderUnavailable, TaggerInputError } from "../errors.js"
import { TaggerModelError } from "../errors.js"
import type { TagLabels } from "../labels/selectedTags.js"
import { type LoadModelOptions, loadWd14Model, type Wd14Model } from "../model/wd14Model.js"
import { loadTagLabels } from "./loadTagLabels.js"

export interface Wd14TaggerOptions extends LoadModelOptions {
  /** Path of the tagger's `model.onnx`. */
  readonly model: string
  /** Path of the tagger's `selected_tags.csv`. */
  readonly tags: string
}

/** A model and its tag list, checked to belong together. */
export interface Wd14TaggerShape {
  readonly model: Wd14Model
  readonly labels: TagLabels
  /** Runs prepared inputs (one {@link wd14Input} each) and returns one probability vector per input. */
  readonly predict: (
    inputs: ReadonlyArray<Float32Array>,
  ) => Effect.Effect<Array<Float32Array>, TaggerModelError>
}

const countMismatch = (model: Wd14Model, tags: string, outputs: number, rows: number) =>
  new TaggerModelError({
    message: `${model.path} gives ${outputs} outputs but ${tags} lists ${rows} tags; use the selected_tags.csv that came with this model`,
  })

/** Opens a tagger: the model session lives until the scope closes. */
export const openWd14Tagger = (
  options: Wd14TaggerOptions,
): Effect.Effect<
  Wd14TaggerShape,
  TaggerInputError | TaggerModelError | ExecutionProviderUnavailable,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const labels = yield* loadTagLabels(options.tags)
    const model = yield* loadWd14Model(options.model, options)
    const rows = labels.labels.length
    if (model.outputCount !== undefined && model.outputCount !== rows) {
      return yield* countMismatch(model, options.tags, model.outputCount, rows)
    }
    const imageLength = model.size * model.size * 3

    const runChunk = (chunk: ReadonlyArray<Float32Array>) =>
      Effect.gen(function* () {
        // Models exported with a fixed batch (WD1.4 v2) need exactly that many images; the rest is padding.
        const batch = model.fixedBatch ?? chunk.length
        const pixels = new Float32Array(batch * imageLength)
        chunk.forEach((input, i) => {
          pixels.set(input, i * imageLength)
        })
        const output = yield* Effect.tryPromise({
          try: () => model.run(pixels, batch),
          catch: (cause) =>
            cause instanceof TaggerModelError
              ? cause
              : new TaggerModelError({
                  message: `${model.path} failed to run: ${String((cause as Error).message ?? cause).split("\n")[0]}`,
                }),
        })
        if (output.length !== batch * rows) {
          return yield* countMismatch(model, options.tags, output.length / batch, rows)
        }
        return chunk.map((_, i) => output.subarray(i * rows, (i + 1) * rows))
      })

    const predict = (inputs: ReadonlyArray<Float32Array>) =>
      Effect.gen(function* () {
        const step = model.fixedBatch ?? Math.max(1, inputs.length)
        const results: Array<Float32Array> = []
        for (let start = 0; start < inputs.length; start += step) {
          results.push(...(yield* runChunk(inputs.slice(start, start + step))))
        }
        return results
      })

    return { model, labels, predict }
  })

/** The tagger as an Effect service, for programs that compose it with other danlu services. */
export class Wd14Tagger extends Context.Service<Wd14Tagger, Wd14TaggerShape>()("@danlu/tagger/Wd14Tagger") {
  static readonly layer = (options: Wd14TaggerOptions) => Layer.effect(Wd14Tagger)(openWd14Tagger(options))
}
