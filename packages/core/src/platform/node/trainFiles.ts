/// <reference types="node" />
import { createHash } from "node:crypto"
import { mkdir, readFile, rm } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { memorySink, memorySource } from "../../io/byteSource.js"
import { CheckpointFormatError, type FileAccessError } from "../../io/errors.js"
import { openSafetensors, tensorsInMemory, writeSafetensors } from "../../io/safetensors.js"
import { fromHostTensor, type StoredTensor, toHostTensor } from "../../io/storedTensor.js"
import { kohyaTensors, type LoraSaveDType } from "../../lora/kohyaFile.js"
import type { LoraModuleWeights } from "../../lora/moduleWeights.js"
import type { Optimizer, ParamSpec } from "../../optim/optimizer.js"
import type { HostTensor } from "../../tensor/hostTensor.js"
import { castHostFloat } from "../../train/baseWeights.js"
import type { SavePoint, TrainProgress, TrainSink } from "../../train/loop.js"
import { writeFileAtomic } from "./atomicWrite.js"
import { fileError } from "./fileErrors.js"

/** kohya's file names: `name.safetensors`, `name-000002.safetensors`, `name-step00000500.safetensors`. */
export const networkFileName = (
  outputName: string,
  point: Pick<SavePoint, "kind" | "epoch" | "step">,
): string =>
  point.kind === "final"
    ? `${outputName}.safetensors`
    : point.kind === "epoch"
      ? `${outputName}-${String(point.epoch).padStart(6, "0")}.safetensors`
      : `${outputName}-step${String(point.step).padStart(8, "0")}.safetensors`

/** kohya's state folder names: `name-state`, `name-000002-state`, `name-step00000500-state`. */
export const stateFolderName = (
  outputName: string,
  point: Pick<SavePoint, "kind" | "epoch" | "step">,
): string =>
  point.kind === "final"
    ? `${outputName}-state`
    : point.kind === "epoch"
      ? `${outputName}-${String(point.epoch).padStart(6, "0")}-state`
      : `${outputName}-step${String(point.step).padStart(8, "0")}-state`

const stateFile = "state.safetensors"
const progressKey = "danlu.train_progress"

/**
 * sd-scripts' `precalculate_safetensors_hashes`: the file serialised with only its `ss_*` metadata;
 * `sshs_model_hash` is the sha256 of everything after the header, `sshs_legacy_hash` the first 8 hex
 * digits of the sha256 of 64 KiB at offset 1 MiB (A1111's old model hash).
 */
export const safetensorsHashes = (
  tensors: Readonly<Record<string, StoredTensor>>,
  metadata: Readonly<Record<string, string>>,
): Effect.Effect<
  { readonly sshs_model_hash: string; readonly sshs_legacy_hash: string },
  FileAccessError | CheckpointFormatError
> =>
  Effect.gen(function* () {
    const ssOnly = Object.fromEntries(Object.entries(metadata).filter(([key]) => key.startsWith("ss_")))
    const sink = memorySink()
    yield* writeSafetensors(sink, tensorsInMemory(tensors, ssOnly))
    const bytes = sink.bytes()
    const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true))
    const body = bytes.subarray(8 + headerLength)
    return {
      sshs_model_hash: createHash("sha256").update(body).digest("hex"),
      sshs_legacy_hash: createHash("sha256")
        .update(bytes.subarray(0x100000, 0x110000))
        .digest("hex")
        .slice(0, 8),
    }
  })

export interface KohyaTrainSinkOptions {
  readonly outputDir: string
  readonly outputName: string
  readonly savePrecision: LoraSaveDType
  /** The state names of the network's weights, read at each save point. */
  readonly networkStates: ReadonlyArray<string>
  /** Pairs the weights with their modules (`LoraNetwork.moduleWeights`). */
  readonly modules: (weights: Readonly<Record<string, HostTensor<"f32">>>) => ReadonlyArray<LoraModuleWeights>
  /** The file's metadata at a save point (`ss_*`, `modelspec.*`); hashes are added here. */
  readonly metadata: (point: SavePoint) => Record<string, string>
  /** Written into every resumable state beside the progress (what identifies the run, say). */
  readonly stateMetadata?: Readonly<Record<string, string>>
}

/** Creates a folder and its parents when missing (`sample/.lora` before the first sample, say). */
export const ensureFolder = (folder: string): Effect.Effect<void, FileAccessError> =>
  Effect.tryPromise({
    try: () => mkdir(folder, { recursive: true }),
    catch: (cause) => fileError(folder, cause),
  })

/** Writes the network at a save point as a kohya LoRA file; returns the path. */
const writeNetwork = (options: KohyaTrainSinkOptions, point: SavePoint) =>
  Effect.gen(function* () {
    yield* ensureFolder(options.outputDir)
    // Weights held in half (full_fp16 / full_bf16) widen exactly; the file follows save_precision.
    const weights = Object.fromEntries(
      Object.entries(yield* point.read(options.networkStates)).map(([name, value]) => [
        name,
        castHostFloat(value, "f32") as HostTensor<"f32">,
      ]),
    )
    const tensors = kohyaTensors(options.modules(weights), options.savePrecision)
    const metadata = options.metadata(point)
    const hashes = yield* safetensorsHashes(tensors, metadata)
    const path = join(options.outputDir, networkFileName(options.outputName, point))
    yield* writeFileAtomic(
      path,
      (sink) => writeSafetensors(sink, tensorsInMemory(tensors, { ...metadata, ...hashes })),
      {
        existing: "replace",
      },
    )
    return path
  })

/** Where a run's files go and what its states carry: what every sink of a run shares. */
export type TrainFilesPlace = Pick<KohyaTrainSinkOptions, "outputDir" | "outputName" | "stateMetadata">

/**
 * A resumable state: every trained and optimizer state in f32 (bit-exact), with the run's progress in the
 * same file's metadata so the two can never disagree after a crash, and kohya's `train_state.json` beside it.
 */
const writeTrainState = (
  options: TrainFilesPlace,
  point: SavePoint,
  names: ReadonlyArray<string>,
  progress: TrainProgress,
) =>
  Effect.gen(function* () {
    const folder = join(options.outputDir, stateFolderName(options.outputName, point))
    yield* ensureFolder(folder)
    const values = yield* point.read(names)
    const tensors = Object.fromEntries(
      Object.entries(values).map(([name, value]) => [name, fromHostTensor(value)]),
    )
    yield* writeFileAtomic(
      join(folder, stateFile),
      (sink) =>
        writeSafetensors(
          sink,
          tensorsInMemory(tensors, {
            ...options.stateMetadata,
            [progressKey]: JSON.stringify(progress),
          }),
        ),
      { existing: "replace" },
    )
    const kohya = JSON.stringify({
      current_epoch: progress.epoch - (progress.batchInEpoch === 0 ? 1 : 0),
      current_step: progress.step,
    })
    yield* writeFileAtomic(
      join(folder, "train_state.json"),
      (sink) => sink.write(new TextEncoder().encode(kohya)),
      {
        existing: "replace",
      },
    )
    return folder
  })

/** Deletes an epoch's file and state folder (kohya's `save_last_n_epochs`); returns the paths. */
const removeSavedEpoch = (
  options: TrainFilesPlace,
  epoch: number,
): Effect.Effect<ReadonlyArray<string>, FileAccessError> =>
  Effect.gen(function* () {
    const point = { kind: "epoch" as const, epoch, step: 0 }
    const paths = [
      join(options.outputDir, networkFileName(options.outputName, point)),
      join(options.outputDir, stateFolderName(options.outputName, point)),
    ]
    for (const path of paths)
      yield* Effect.tryPromise({
        try: () => rm(path, { recursive: true, force: true }),
        catch: (cause) => fileError(path, cause),
      })
    return paths
  })

/**
 * A run's sink over one writer of its model file (a LoRA, a checkpoint): the resumable states and the
 * pruning of old epoch files are the same for every kind of run.
 */
export const filesTrainSink = <O extends TrainFilesPlace, E>(
  options: O,
  writeModel: (options: O, point: SavePoint) => Effect.Effect<string, E>,
): TrainSink<FileAccessError | CheckpointFormatError> => ({
  saveNetwork: (point) =>
    Effect.mapError(writeModel(options, point), (e) => e as FileAccessError | CheckpointFormatError),
  saveState: (point, names, progress) =>
    writeTrainState(options, point, names, progress) as Effect.Effect<
      string,
      FileAccessError | CheckpointFormatError
    >,
  removeEpoch: (epoch) => removeSavedEpoch(options, epoch),
})

/** The files of a run, named and written as sd-scripts writes them; every write is atomic. */
export const kohyaTrainSink = (
  options: KohyaTrainSinkOptions,
): TrainSink<FileAccessError | CheckpointFormatError> => filesTrainSink(options, writeNetwork)

/**
 * Reads a state folder written by {@link kohyaTrainSink} (`--resume <folder>`). With `optimizer`, states an earlier
 * danlu saved in another layout are converted to the one the optimizer reads (`Optimizer.convertSavedState`; the
 * groups as for `initialState`); one it cannot convert is a `CheckpointFormatError`.
 */
export const readTrainState = (
  folder: string,
  optimizer?: { readonly optimizer: Optimizer; readonly groups: ReadonlyArray<ReadonlyArray<ParamSpec>> },
): Effect.Effect<
  {
    readonly progress: TrainProgress
    readonly states: Record<string, HostTensor>
    /** The state file's metadata (the sink's `stateMetadata` and the progress). */
    readonly metadata: Readonly<Record<string, string>>
  },
  FileAccessError | CheckpointFormatError
> =>
  Effect.gen(function* () {
    const path = join(folder, stateFile)
    const bytes = yield* Effect.tryPromise({
      try: () => readFile(path),
      catch: (cause) => fileError(path, cause),
    })
    const file = yield* openSafetensors(
      memorySource(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path),
    )
    const progressText = file.metadata[progressKey]
    if (progressText === undefined)
      return yield* new CheckpointFormatError({
        file: path,
        detail: "is not a danlu training state (no progress metadata)",
      })
    const states: Record<string, HostTensor> = {}
    for (const info of file.tensors) states[info.name] = toHostTensor(yield* file.read(info.name))
    const convert = optimizer?.optimizer.convertSavedState
    const converted = convert
      ? yield* Effect.try({
          try: () => convert(states, optimizer.groups),
          catch: (cause) =>
            new CheckpointFormatError({
              file: path,
              detail: cause instanceof Error ? cause.message : String(cause),
            }),
        })
      : states
    return { progress: JSON.parse(progressText) as TrainProgress, states: converted, metadata: file.metadata }
  })
