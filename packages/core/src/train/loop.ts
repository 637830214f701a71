import { Data, Effect, type Scope } from "effect"
import { asBackendError } from "../backend/asBackendError.js"
import { Backend, type DeviceBuffer, type Program } from "../backend/Backend.js"
import type { BackendError } from "../errors.js"
import type { Graph, TensorSpec } from "../graph/graph.js"
import { Progress } from "../progress/progress.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import { castHostFloat } from "./baseWeights.js"
import type { BatchSource, TrainBatch } from "./batchSource.js"
import type { TrainEvent } from "./events.js"
import { trainProgressEvent } from "./trainProgress.js"

/** The shape a step program is compiled for. */
export interface BatchShape {
  readonly latentShape: readonly [number, number, number]
  readonly batch: number
}

/** Where a run stands: enough to continue it exactly. */
export interface TrainProgress {
  /** The epoch in progress or next to run, 1-based. */
  readonly epoch: number
  /** Batches of that epoch already trained on. */
  readonly batchInEpoch: number
  /** Optimizer steps done (kohya's `global_step`). */
  readonly step: number
  /** Micro-batches done (differs from `step` with gradient accumulation); keys the noise. */
  readonly microStep: number
  /** Step losses of the running average window, so a resumed run logs the same averages. */
  readonly recentLosses: ReadonlyArray<number>
}

export const startProgress: TrainProgress = {
  epoch: 1,
  batchInEpoch: 0,
  step: 0,
  microStep: 0,
  recentLosses: [],
}

/** A learning-rate group as the step program takes it: one scalar input per group. */
export interface LrGroup {
  /** kohya's log name: "unet", "textencoder". */
  readonly name: string
  readonly input: string
  readonly baseLr: number
}

/** A checkpoint the loop asks the caller to write. */
export interface SavePoint {
  readonly kind: "epoch" | "step" | "final"
  readonly epoch: number
  readonly step: number
  /** Downloads states (LoRA weights, or everything for a resumable state) from the device. */
  readonly read: (names: ReadonlyArray<string>) => Effect.Effect<Record<string, HostTensor>, BackendError>
}

/** Writes the files of a run; the Node implementation names them as kohya does. */
export interface TrainSink<E> {
  /** Writes the network at a save point; returns the path written. */
  readonly saveNetwork: (point: SavePoint) => Effect.Effect<string, E | BackendError>
  /** Writes a resumable state (every trainable state and the progress); returns its path. */
  readonly saveState: (
    point: SavePoint,
    names: ReadonlyArray<string>,
    progress: TrainProgress,
  ) => Effect.Effect<string, E | BackendError>
  /** Deletes an epoch's network file (and state) that `save_last_n_epochs` no longer keeps. */
  readonly removeEpoch: (epoch: number) => Effect.Effect<ReadonlyArray<string>, E>
}

/** When to draw sample images and how; `networkPath` is the file saved at that point, when there is one. */
export interface SampleSchedule<E> {
  /** Takes precedence over `everyNSteps`, as in kohya. */
  readonly everyNEpochs?: number | undefined
  readonly everyNSteps?: number | undefined
  /** Also before the first step (kohya's `sample_at_first`). */
  readonly atFirst: boolean
  readonly run: (point: SavePoint, networkPath: string | undefined) => Effect.Effect<void, E | BackendError>
}

export interface TrainLoopOptions<E> {
  readonly data: BatchSource<E>
  readonly stepGraph: (shape: BatchShape) => Graph
  readonly validationGraph?: ((shape: BatchShape) => Graph) | undefined
  /** The data inputs of a batch (latents, tokens, loss weights, masks). */
  readonly batchInputs: (batch: TrainBatch) => Record<string, HostTensor>
  /** The per-micro-step scalars besides learning rates (step counter, noise key, apply flag). */
  readonly stepInputs: (step: {
    readonly microStep: number
    readonly optimizerStep: number
    readonly apply: boolean
  }) => Record<string, HostTensor>
  /** The fixed scalar inputs of the validation graph. */
  readonly validationInputs?: () => Record<string, HostTensor>
  /** The initial value of a program state the run has not seen yet (base weight, LoRA init, optimizer state). */
  readonly initialState: (spec: TensorSpec) => Effect.Effect<HostTensor, E>
  /** Whether a state is trained or optimizer state (saved in resumable states) rather than a frozen weight. */
  readonly isTrainingState: (name: string) => boolean
  readonly groups: ReadonlyArray<LrGroup>
  /** The learning-rate multiplier after `step` optimizer steps (0-based), from the schedule. */
  readonly lrMultiplier: (step: number) => number
  readonly epochs: number
  /** What the saved files are, for the "saved …" progress notes (default "LoRA"). */
  readonly saves?: string
  /** Optimizer steps to run in all (kohya's `max_train_steps`). */
  readonly totalSteps: number
  readonly gradientAccumulationSteps: number
  readonly saveEveryNEpochs?: number | undefined
  readonly saveEveryNSteps?: number | undefined
  readonly saveLastNEpochs?: number | undefined
  /** Also write a resumable state at each save point (kohya's `save_state`). */
  readonly saveState: boolean
  readonly sink: TrainSink<E>
  readonly resume?: {
    readonly progress: TrainProgress
    readonly states: Readonly<Record<string, HostTensor>>
  }
  /** Sample images during training (kohya's `sample_every_n_epochs`, `sample_every_n_steps`, `sample_at_first`). */
  readonly sample?: SampleSchedule<E> | undefined
  /** Polled between steps: when true the run finishes the step, writes a resumable state and stops. */
  readonly stopRequested: () => boolean
  /** Hears every event; the same events also go to the {@link Progress} service. */
  readonly emit: (event: TrainEvent) => void
  /** Wall-clock seconds, injectable for tests. */
  readonly now?: () => number
}

export interface TrainResult {
  readonly progress: TrainProgress
  readonly interrupted: boolean
  /** The resumable state written when the run was interrupted. */
  readonly statePath: string | undefined
  readonly finalPath: string | undefined
  readonly validationLosses: ReadonlyArray<{ readonly epoch: number; readonly loss: number }>
}

/** The loss became NaN or infinite: training cannot continue from here. */
export class TrainingDiverged extends Data.TaggedError("TrainingDiverged")<{
  readonly step: number
  readonly epoch: number
  readonly loss: number
}> {
  override get message(): string {
    return `the loss became ${this.loss} at step ${this.step} (epoch ${this.epoch}): the learning rate is likely too high for this network, or f16 overflowed; the last saved file is untouched`
  }
}

const shapeKey = (shape: BatchShape) => `${shape.batch}×${shape.latentShape.join("×")}`

const scalar = (value: number): HostTensor => ({ dtype: "f32", shape: [], data: Float32Array.of(value) })

/**
 * The training loop over any backend: one compiled step program per batch shape, every state (frozen
 * weights, LoRA weights, optimizer moments, gradient accumulators) uploaded once and shared by all of
 * them, learning rates and counters fed as inputs each step. Files are written through the sink at
 * kohya's save points; a stop request ends the run after the current step with a resumable state. Each event
 * goes to `options.emit` and, as progress, to the {@link Progress} service.
 */
export const runTrainingLoop = <E>(
  options: TrainLoopOptions<E>,
): Effect.Effect<TrainResult, E | BackendError | TrainingDiverged, Backend | Scope.Scope> =>
  Effect.gen(function* () {
    const backend = yield* Backend
    const progressService = yield* Progress
    const now = options.now ?? (() => performance.now() / 1000)
    const emit = (event: TrainEvent) => {
      options.emit(event)
      progressService.emit(trainProgressEvent(event, options.epochs, options.saves))
    }
    const buffers = new Map<string, DeviceBuffer>()
    const programs = new Map<string, Program>()
    const validationPrograms = new Map<string, Program>()
    const resumeStates = options.resume?.states ?? {}

    const ensureStates = (program: Program) =>
      Effect.forEach(
        program.states,
        (spec) =>
          buffers.has(spec.name)
            ? Effect.void
            : Effect.gen(function* () {
                // A state saved in another float dtype (full_bf16 turned on or off) is taken rounded to this one.
                const resumed = resumeStates[spec.name]
                const value = resumed ? castHostFloat(resumed, spec.dtype) : yield* options.initialState(spec)
                buffers.set(spec.name, yield* backend.upload(value))
              }),
        { discard: true },
      )
    const compiled = (cache: Map<string, Program>, graph: (shape: BatchShape) => Graph, shape: BatchShape) =>
      Effect.gen(function* () {
        const key = shapeKey(shape)
        const seen = cache.get(key)
        if (seen) return seen
        const started = now()
        // Recording the model throws a typed ShapeError (e.g. a clip skip the text encoder cannot give).
        const built = yield* Effect.try({
          try: () => graph(shape),
          catch: (cause) => asBackendError(cause, backend.name, "building the training graph"),
        })
        const program = yield* backend.compile(built)
        emit({ type: "compile", shape: key, seconds: now() - started })
        yield* ensureStates(program)
        cache.set(key, program)
        return program
      })
    const statesOf = (program: Program): Record<string, DeviceBuffer> =>
      Object.fromEntries(program.states.map((spec) => [spec.name, buffers.get(spec.name)!]))
    const read = (names: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const out: Record<string, HostTensor> = {}
        for (const name of names) {
          const buffer = buffers.get(name)
          if (buffer) out[name] = yield* backend.download(buffer)
        }
        return out
      })
    const trainingStateNames = () => [...buffers.keys()].filter(options.isTrainingState).sort()

    const { data } = options
    const accumulation = Math.max(1, options.gradientAccumulationSteps)
    let progress = options.resume?.progress ?? startProgress
    const recentLosses = [...progress.recentLosses]
    const windowSize = Math.max(1, data.batchesPerEpoch)
    const validationLosses: Array<{ epoch: number; loss: number }> = []
    const savedEpochs: Array<number> = []

    emit({
      type: "start",
      totalSteps: options.totalSteps,
      epochs: options.epochs,
      batchesPerEpoch: data.batchesPerEpoch,
      startStep: progress.step,
      startEpoch: progress.epoch,
    })

    for (const shape of data.shapes) yield* compiled(programs, options.stepGraph, shape)
    const sample = options.sample
    if (sample?.atFirst && progress.step === 0)
      yield* sample.run({ kind: "step", epoch: 0, step: 0, read }, undefined)

    const point = (kind: SavePoint["kind"]): SavePoint => ({
      kind,
      epoch: progress.epoch,
      step: progress.step,
      read,
    })
    const lrInputs = (step: number) => {
      const multiplier = options.lrMultiplier(step)
      const lrs: Record<string, number> = {}
      const inputs: Record<string, HostTensor> = {}
      for (const group of options.groups) {
        lrs[group.name] = group.baseLr * multiplier
        inputs[group.input] = scalar(group.baseLr * multiplier)
      }
      return { lrs, inputs }
    }
    const validationLoss = Effect.gen(function* () {
      if (!options.validationGraph || data.validation.length === 0) return undefined
      let sum = 0
      let count = 0
      for (const batch of data.validation) {
        const shape = { latentShape: batch.latentShape, batch: batch.samples.length }
        const program = yield* compiled(validationPrograms, options.validationGraph, shape)
        const out = yield* program.run(
          { ...options.batchInputs(batch), ...(options.validationInputs?.() ?? {}) },
          statesOf(program),
        )
        sum += (out.loss!.data as Float32Array)[0]! * batch.samples.length
        count += batch.samples.length
      }
      return sum / count
    })

    let lastTime = now()
    let stepsTimed = 0
    let samplesTimed = 0
    let secondsTimed = 0
    let pendingLoss = 0
    let pendingGradNorm = 0
    let interrupted = false
    let statePath: string | undefined

    const averageLoss = () => recentLosses.reduce((a, b) => a + b, 0) / Math.max(1, recentLosses.length)

    run: while (progress.epoch <= options.epochs && progress.step < options.totalSteps) {
      const epoch = progress.epoch
      for (let index = progress.batchInEpoch; index < data.batchesPerEpoch; index++) {
        if (progress.step >= options.totalSteps) break run
        const batch = yield* data.batch(epoch, index)
        const shape = { latentShape: batch.latentShape, batch: batch.samples.length }
        const program = yield* compiled(programs, options.stepGraph, shape)
        const microStep = progress.microStep + 1
        const apply = microStep % accumulation === 0 || index === data.batchesPerEpoch - 1
        const { lrs, inputs: lrValues } = lrInputs(progress.step)
        const out = yield* program.run(
          {
            ...options.batchInputs(batch),
            ...lrValues,
            ...options.stepInputs({ microStep, optimizerStep: progress.step + 1, apply }),
          },
          statesOf(program),
        )
        const loss = (out.loss!.data as Float32Array)[0]!
        if (!Number.isFinite(loss)) {
          return yield* new TrainingDiverged({ step: progress.step + 1, epoch, loss })
        }
        pendingLoss += loss / accumulation
        pendingGradNorm = out.grad_norm ? (out.grad_norm.data as Float32Array)[0]! : Number.NaN
        samplesTimed += batch.samples.length
        const step = apply ? progress.step + 1 : progress.step
        if (apply) {
          recentLosses.push(pendingLoss)
          if (recentLosses.length > windowSize) recentLosses.shift()
        }
        progress = {
          epoch,
          batchInEpoch: index + 1,
          step,
          microStep,
          recentLosses: [...recentLosses],
        }
        if (apply) {
          const t = now()
          secondsTimed += t - lastTime
          lastTime = t
          stepsTimed++
          const itPerSecond = stepsTimed / Math.max(secondsTimed, 1e-9)
          emit({
            type: "step",
            epoch,
            step,
            totalSteps: options.totalSteps,
            loss: pendingLoss,
            averageLoss: averageLoss(),
            gradNorm: pendingGradNorm,
            lr: lrs,
            itPerSecond,
            samplesPerSecond: samplesTimed / Math.max(secondsTimed, 1e-9),
            etaSeconds: (options.totalSteps - step) / Math.max(itPerSecond, 1e-9),
          })
          pendingLoss = 0
          let stepPath: string | undefined
          if (options.saveEveryNSteps && step % options.saveEveryNSteps === 0 && step < options.totalSteps) {
            stepPath = yield* options.sink.saveNetwork(point("step"))
            emit({ type: "saved", kind: "step", path: stepPath })
            if (options.saveState) {
              const state = yield* options.sink.saveState(point("step"), trainingStateNames(), progress)
              emit({ type: "saved", kind: "state", path: state })
            }
          }
          if (sample && !sample.everyNEpochs && sample.everyNSteps && step % sample.everyNSteps === 0)
            yield* sample.run(point("step"), stepPath)
        }
        if (options.stopRequested() && apply) {
          interrupted = true
          statePath = yield* options.sink.saveState(point("step"), trainingStateNames(), progress)
          emit({ type: "saved", kind: "state", path: statePath })
          break run
        }
      }
      const validation = yield* validationLoss
      if (validation !== undefined) validationLosses.push({ epoch, loss: validation })
      emit({ type: "epoch", epoch, averageLoss: averageLoss(), validationLoss: validation })
      progress = { ...progress, epoch: epoch + 1, batchInEpoch: 0 }
      const finished = epoch >= options.epochs || progress.step >= options.totalSteps
      let epochPath: string | undefined
      if (!finished && options.saveEveryNEpochs && epoch % options.saveEveryNEpochs === 0) {
        const path = yield* options.sink.saveNetwork({ ...point("epoch"), epoch })
        epochPath = path
        emit({ type: "saved", kind: "epoch", path })
        if (options.saveState) {
          const state = yield* options.sink.saveState(
            { ...point("epoch"), epoch },
            trainingStateNames(),
            progress,
          )
          emit({ type: "saved", kind: "state", path: state })
        }
        savedEpochs.push(epoch)
        const keep = options.saveLastNEpochs
        while (keep !== undefined && keep > 0 && savedEpochs.length > keep) {
          for (const removed of yield* options.sink.removeEpoch(savedEpochs.shift()!))
            emit({ type: "removed", path: removed })
        }
      }
      if (sample?.everyNEpochs && epoch % sample.everyNEpochs === 0 && !finished)
        yield* sample.run({ ...point("epoch"), epoch }, epochPath)
      if (options.stopRequested()) {
        interrupted = !finished
        if (interrupted) {
          statePath = yield* options.sink.saveState(point("step"), trainingStateNames(), progress)
          emit({ type: "saved", kind: "state", path: statePath })
        }
        break
      }
    }

    let finalPath: string | undefined
    if (!interrupted) {
      finalPath = yield* options.sink.saveNetwork({ ...point("final"), epoch: progress.epoch - 1 })
      emit({ type: "saved", kind: "final", path: finalPath })
      if (sample && (sample.everyNEpochs || sample.everyNSteps))
        yield* sample.run({ ...point("final"), epoch: progress.epoch - 1 }, finalPath)
      if (options.saveState) {
        const state = yield* options.sink.saveState(point("final"), trainingStateNames(), progress)
        emit({ type: "saved", kind: "state", path: state })
      }
    }
    return { progress, interrupted, statePath, finalPath, validationLosses }
  })
