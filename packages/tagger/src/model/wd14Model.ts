import { Effect, type Scope } from "effect"
import { type ExecutionProviderUnavailable, TaggerInputError, TaggerModelError } from "../errors.js"
import { defaultExecutionProvider, type ExecutionProvider } from "./executionProvider.js"
import { describeShape, numericDim, openOnnxSession, tensorShape } from "./onnxSession.js"

/** A loaded WD1.4-family tagger: NHWC float32 BGR 0–255 in, one probability per tag out. */
export interface Wd14Model {
  readonly path: string
  readonly provider: ExecutionProvider
  readonly inputName: string
  readonly outputName: string
  /** Square input side read from the model (448 for every published WD1.4 v2/v3 tagger). */
  readonly size: number
  /** The batch size the model was exported with, or undefined when it takes any batch (v3). */
  readonly fixedBatch: number | undefined
  /** Number of outputs per image, when the model declares it. */
  readonly outputCount: number | undefined
  /** Runs `count` images laid out NHWC in `pixels`; returns `count × outputs` probabilities. */
  readonly run: (pixels: Float32Array, count: number) => Promise<Float32Array>
}

export interface LoadModelOptions {
  /** `cpu` (default), `cuda`, `tensorrt`, … — whichever this onnxruntime-node install provides. */
  readonly provider?: ExecutionProvider
  /** CPU threads for one inference (ONNX Runtime's intra-op threads); default: ONNX Runtime's choice. */
  readonly threads?: number
}

/**
 * Opens a tagger model and checks its input and output against the WD1.4 contract. The session is
 * released when the scope closes.
 */
export const loadWd14Model = (
  path: string,
  options: LoadModelOptions = {},
): Effect.Effect<
  Wd14Model,
  TaggerInputError | TaggerModelError | ExecutionProviderUnavailable,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const provider = options.provider ?? defaultExecutionProvider
    const missing = new TaggerInputError({
      message: `model not found: ${path} (download a WD1.4 tagger's model.onnx)`,
      option: "model",
    })
    const { ort, session } = yield* openOnnxSession(path, options, missing, "auto-tagging")

    const inputName = session.inputNames[0]
    const outputName = session.outputNames[0]
    const inputShape = tensorShape(session.inputMetadata[0])
    if (inputName === undefined || outputName === undefined || inputShape === undefined) {
      return yield* new TaggerModelError({
        message: `${path} is not a WD1.4 tagger: it has no tensor input or output`,
      })
    }
    const size = numericDim(inputShape[1])
    if (inputShape.length !== 4 || inputShape[3] !== 3 || size === undefined || inputShape[2] !== size) {
      return yield* new TaggerModelError({
        message: `${path} is not a WD1.4 tagger: its input is ${describeShape(inputShape)}, expected [batch, size, size, 3] (NHWC)`,
      })
    }
    const outputShape = tensorShape(session.outputMetadata[0]) ?? []
    const fixedBatch = numericDim(inputShape[0])
    const outputCount = numericDim(outputShape[outputShape.length - 1])

    const run = async (pixels: Float32Array, count: number): Promise<Float32Array> => {
      const input = new ort.Tensor("float32", pixels, [count, size, size, 3])
      const results = await session.run({ [inputName]: input })
      const output = results[outputName]
      if (output === undefined || !(output.data instanceof Float32Array)) {
        throw new TaggerModelError({ message: `${path} did not return float32 probabilities` })
      }
      return output.data
    }
    return { path, provider, inputName, outputName, size, fixedBatch, outputCount, run }
  })
