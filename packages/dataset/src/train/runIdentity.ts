import { createHash } from "node:crypto"
import { basename } from "node:path"
import type { TrainConfig } from "@danlu/core"
import { readTrainState } from "@danlu/core/node"
import { Effect } from "effect"
import { DatasetError } from "../errors.js"
import type { TrainingData } from "./trainingData.js"

/** Where a resumable state keeps the identity of the run that wrote it. */
export const runIdentityKey = "danlu.run"

/**
 * What a resumed run must share with the run that wrote the state for the two to continue as one:
 * the base model, the network's shape, the optimizer, the seed, the accumulation and the data (images,
 * captions, repeats, buckets and batch sizes, as a hash). Keys are kohya's option names. Learning
 * rates, lengths and save options may change on resume, as in sd-scripts.
 */
export const runIdentity = (
  config: TrainConfig,
  seed: number,
  model: { readonly name: string; readonly size: number },
  data: TrainingData<unknown>,
): Record<string, string> => {
  const images = [...data.images, ...data.regularizationImages, ...data.validationImages].map((image) => [
    image.dataset,
    image.concept.folderName,
    basename(image.path),
    image.concept.repeats,
    image.concept.isRegularization,
    image.caption,
    image.assignment.bucket.width,
    image.assignment.bucket.height,
    image.mask !== undefined,
  ])
  return {
    pretrained_model_name_or_path: `${model.name} (${model.size} bytes)`,
    network_dim: String(config.networkDim),
    network_alpha: String(config.networkAlpha),
    network_args: JSON.stringify({
      conv_dim: config.networkArgs.convDim,
      conv_alpha: config.networkArgs.convAlpha,
    }),
    network_train_unet_only: String(config.networkTrainUnetOnly),
    network_train_text_encoder_only: String(config.networkTrainTextEncoderOnly),
    optimizer_type: config.optimizerType,
    optimizer_args: JSON.stringify(config.optimizerArgs),
    seed: String(seed),
    gradient_accumulation_steps: String(config.gradientAccumulationSteps),
    "training data": createHash("sha256")
      .update(JSON.stringify({ images, batches: data.batchesPerEpoch, shapes: data.shapes }))
      .digest("hex")
      .slice(0, 16),
  }
}

/**
 * Why a state cannot continue this run, in one line, or undefined when it can. A state without an
 * identity (written before danlu kept one) is taken as it is.
 */
const resumeMismatch = (
  folder: string,
  identity: Readonly<Record<string, string>>,
  stateMetadata: Readonly<Record<string, string>>,
): string | undefined => {
  const text = stateMetadata[runIdentityKey]
  if (text === undefined) return undefined
  const theirs = JSON.parse(text) as Record<string, string>
  const differing = Object.keys(identity).filter((key) => theirs[key] !== identity[key])
  if (differing.length === 0) return undefined
  const described = differing.map((key) =>
    key === "training data"
      ? "the training data (images, captions, repeats, buckets or batch sizes) differs"
      : `${key} is ${theirs[key] ?? "unset"} there and ${identity[key]} here`,
  )
  return `--resume ${folder} is the state of another run: ${described.join("; ")}; resume with that run's settings, or train afresh without --resume`
}

/**
 * The train state `--resume` names (its optimizer states converted as `readTrainState` does), refused in one
 * line when it is the state of another run; undefined without `--resume`.
 */
export const readResumeState = (
  folder: string | undefined,
  identity: Readonly<Record<string, string>>,
  optimizer: Parameters<typeof readTrainState>[1],
) =>
  Effect.gen(function* () {
    if (folder === undefined) return undefined
    const state = yield* readTrainState(folder, optimizer)
    const mismatch = resumeMismatch(folder, identity, state.metadata)
    if (mismatch) return yield* new DatasetError({ message: mismatch })
    return state
  })
