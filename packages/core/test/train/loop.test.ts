import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { Graph } from "../../src/graph/graph.js"
import { add, mul } from "../../src/ops/elementwise.js"
import { conv2d } from "../../src/ops/linalg.js"
import { input, state } from "../../src/ops/sources.js"
import { adamW, adamWOptimizer, momentNames } from "../../src/optim/adamW.js"
import { type ProgressEvent, withProgress } from "../../src/progress/progress.js"
import { layer as referenceLayer } from "../../src/reference/ReferenceBackend.js"
import { type HostTensor, hostTensor } from "../../src/tensor/hostTensor.js"
import type { BatchSource, TrainBatch } from "../../src/train/batchSource.js"
import { stepKey } from "../../src/train/draws.js"
import type { TrainEvent } from "../../src/train/events.js"
import {
  type BatchShape,
  runTrainingLoop,
  type SavePoint,
  TrainingDiverged,
  type TrainLoopOptions,
  type TrainProgress,
} from "../../src/train/loop.js"
import { stepInputNames } from "../../src/train/stepLoss.js"
import { buildTrainingStep } from "../../src/train/trainingStep.js"

const latentShape = [2, 4, 4] as const
const sampleCount = 5

/** Five fixed "latents" in one bucket: batches of 2, 2 and 1 per epoch, shuffled by epoch. */
const source: BatchSource<never> = {
  batchesPerEpoch: 3,
  batchSize: 2,
  shapes: [
    { latentShape, batch: 2 },
    { latentShape, batch: 1 },
  ],
  validation: [],
  batch: (epoch, index) => {
    const order = [0, 1, 2, 3, 4].map((i) => (i + epoch) % sampleCount)
    const picked = order.slice(index * 2, index * 2 + 2)
    const batch: TrainBatch = {
      bucket: { width: 32, height: 32 },
      latentShape,
      samples: picked.map((i) => ({
        latent: Float32Array.from({ length: 32 }, (_, k) => Math.sin(i * 7 + k) * 0.8),
        caption: "",
        lossWeight: 1,
        size: {
          originalSize: { width: 32, height: 32 },
          crop: { left: 0, top: 0 },
          targetSize: { width: 32, height: 32 },
        },
      })),
    }
    return Effect.succeed(batch)
  },
}

/** A frozen 1×1 conv plus a trainable low-rank correction, standing in for a UNet with a LoRA. */
const stepGraph = (shape: BatchShape): Graph => {
  const latents = input("latents", [shape.batch, ...shape.latentShape])
  const base = state("base", [2, 2, 1, 1])
  const down = state("lora.down", [1, 2, 1, 1])
  const up = state("lora.up", [2, 1, 1, 1])
  const denoise = (x: ReturnType<typeof input>) => add(conv2d(x, base), mul(conv2d(conv2d(x, down), up), 1))
  return buildTrainingStep({
    latents,
    denoise: (noisy) => denoise(noisy as ReturnType<typeof input>),
    groups: [{ trainables: [down, up], lr: input("lr_unet", []) }],
    optimizer: {
      update: (groups, step) =>
        Object.assign({}, ...groups.map((g, i) => adamW(g.trainables, { lr: g.lr, step }, {}, i))),
    },
  }).graph
}

const initial: Record<string, HostTensor> = {
  base: hostTensor("f32", [2, 2, 1, 1], Float32Array.of(0.5, 0.1, -0.2, 0.4)),
  "lora.down": hostTensor("f32", [1, 2, 1, 1], Float32Array.of(0.3, -0.6)),
  "lora.up": hostTensor("f32", [2, 1, 1, 1], Float32Array.of(0.05, 0.02)),
}

interface Saved {
  readonly kind: string
  readonly epoch: number
  readonly step: number
  readonly weights: Record<string, HostTensor>
}

const run = (overrides: Partial<TrainLoopOptions<never>> & { readonly stopAfterStep?: number }) => {
  const saved: Array<Saved> = []
  const states: Array<{ progress: TrainProgress; states: Record<string, HostTensor> }> = []
  const removed: Array<number> = []
  const events: Array<TrainEvent> = []
  const progress: Array<ProgressEvent> = []
  let lastStep = 0
  const networkNames = ["lora.down", "lora.up"]
  const options: TrainLoopOptions<never> = {
    data: source,
    stepGraph,
    batchInputs: (batch) => ({
      latents: hostTensor(
        "f32",
        [batch.samples.length, ...latentShape],
        Float32Array.from(batch.samples.flatMap((s) => [...s.latent])),
      ),
      [stepInputNames.lossWeights]: hostTensor(
        "f32",
        [batch.samples.length],
        new Float32Array(batch.samples.length).fill(1),
      ),
    }),
    stepInputs: ({ microStep, optimizerStep }) => ({
      [stepInputNames.noiseKey]: hostTensor("u32", [4], stepKey(7, microStep)),
      [stepInputNames.step]: hostTensor("f32", [], Float32Array.of(optimizerStep)),
    }),
    initialState: (spec) =>
      Effect.succeed(
        initial[spec.name] ??
          hostTensor("f32", spec.shape, new Float32Array(spec.shape.reduce((a, b) => a * b, 1))),
      ),
    isTrainingState: (name) => name !== "base",
    groups: [{ name: "unet", input: "lr_unet", baseLr: 0.05 }],
    lrMultiplier: () => 1,
    epochs: 3,
    totalSteps: 9,
    gradientAccumulationSteps: 1,
    saveEveryNEpochs: 1,
    saveState: false,
    sink: {
      saveNetwork: (point: SavePoint) =>
        Effect.map(point.read(networkNames), (weights) => {
          saved.push({ kind: point.kind, epoch: point.epoch, step: point.step, weights })
          return `${point.kind}-${point.epoch}`
        }),
      saveState: (point, names, progress) =>
        Effect.map(point.read(names), (values) => {
          states.push({ progress, states: values })
          return `state-${progress.step}`
        }),
      removeEpoch: (epoch) =>
        Effect.sync(() => {
          removed.push(epoch)
          return [`epoch-${epoch}`]
        }),
    },
    stopRequested: () => overrides.stopAfterStep !== undefined && lastStep >= overrides.stopAfterStep,
    emit: (event) => {
      events.push(event)
      if (event.type === "step") lastStep = event.step
    },
    ...overrides,
  }
  return Effect.runPromise(
    Effect.scoped(runTrainingLoop(options)).pipe(
      withProgress((event) => progress.push(event)),
      Effect.provide(referenceLayer),
      Effect.result,
    ),
  ).then((result) => ({ result, saved, states, removed, events, progress }))
}

describe("runTrainingLoop", () => {
  it("writes kohya's save points: each epoch but the last, then the final file; keeps the last N", async () => {
    const { result, saved, removed, events } = await run({ saveLastNEpochs: 1 })
    expect(result._tag).toBe("Success")
    expect(saved.map((s) => `${s.kind}:${s.epoch}:${s.step}`)).toEqual([
      "epoch:1:3",
      "epoch:2:6",
      "final:3:9",
    ])
    expect(removed).toEqual([1])
    const steps = events.filter((e): e is Extract<TrainEvent, { type: "step" }> => e.type === "step")
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(events.filter((e) => e.type === "compile")).toHaveLength(2)
    expect(saved[0]!.weights["lora.up"]!.data).not.toEqual(initial["lora.up"]!.data)
  })

  it("reports each event into Progress in order: every step an update of the 'train' task, the rest notes", async () => {
    const { events, progress } = await run({ saveLastNEpochs: 1 })
    expect(progress).toHaveLength(events.length)
    const updates = progress.filter((e) => e.type === "progress")
    expect(updates.map((e) => [e.task, e.unit, e.done, e.total])).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9].map((step) => ["train", "step", step, 9]),
    )
    for (const [i, event] of events.entries()) {
      const reported = progress[i]!
      if (event.type === "step") {
        expect(reported).toMatchObject({
          type: "progress",
          done: event.step,
          rate: event.itPerSecond,
          etaSeconds: event.etaSeconds,
          fields: { epoch: event.epoch, "loss/current": event.loss, "lr/unet": event.lr.unet },
        })
        expect(reported.type === "progress" && reported.detail).toContain(`loss ${event.loss.toFixed(4)}`)
      } else expect(reported).toMatchObject({ type: "note", task: "train", fields: { event: event.type } })
    }
    const notes = progress.flatMap((e) => (e.type === "note" ? [e.message] : []))
    expect(notes[0]).toBe("training: 9 steps in 3 epochs")
    expect(notes).toContain("saved LoRA: final-3")
    expect(notes).toContain("removed (save_last_n_epochs): epoch-1")
  })

  it("samples at first, at each epoch's end and at the end, handing over the file saved there", async () => {
    const calls: Array<string> = []
    const { result } = await run({
      sample: {
        everyNEpochs: 1,
        atFirst: true,
        run: (point, path) =>
          Effect.map(point.read(["lora.up"]), (weights) => {
            calls.push(
              `${point.kind}:${point.epoch}:${point.step}:${path ?? "-"}:${weights["lora.up"] ? "w" : ""}`,
            )
          }),
      },
    })
    expect(result._tag).toBe("Success")
    expect(calls).toEqual([
      "step:0:0:-:w",
      "epoch:1:3:epoch-1:w",
      "epoch:2:6:epoch-2:w",
      "final:3:9:final-3:w",
    ])
  })

  it("stops with a resumable state, and the resumed run ends with the same bits as an uninterrupted one", async () => {
    const whole = await run({})
    const stopped = await run({ stopAfterStep: 4 })
    expect(stopped.result._tag === "Success" && stopped.result.success.interrupted).toBe(true)
    const state = stopped.states.at(-1)!
    expect(state.progress).toMatchObject({ step: 4, epoch: 2, batchInEpoch: 1 })
    const resumed = await run({ resume: state })
    const final = (r: typeof whole) => r.saved.find((s) => s.kind === "final")!.weights
    expect(Array.from(final(resumed)["lora.down"]!.data)).toEqual(Array.from(final(whole)["lora.down"]!.data))
    expect(Array.from(final(resumed)["lora.up"]!.data)).toEqual(Array.from(final(whole)["lora.up"]!.data))
  })

  it("resumes as bit-identically from a state with AdamW's moments saved per parameter, packed by convertSavedState", async () => {
    const whole = await run({})
    const stopped = await run({ stopAfterStep: 4 })
    const state = stopped.states.at(-1)!
    // The group's moments unpacked into the per-parameter layout an earlier danlu saved: down's 2 values, up's 2.
    const { [momentNames(0).m]: m, [momentNames(0).v]: v, ...rest } = state.states
    const part = (packed: HostTensor, from: number, shape: ReadonlyArray<number>) =>
      hostTensor("f32", shape, (packed.data as Float32Array).slice(from, from + 2))
    const old = {
      ...rest,
      "optimizer.lora.down.exp_avg": part(m!, 0, [1, 2, 1, 1]),
      "optimizer.lora.up.exp_avg": part(m!, 2, [2, 1, 1, 1]),
      "optimizer.lora.down.exp_avg_sq": part(v!, 0, [1, 2, 1, 1]),
      "optimizer.lora.up.exp_avg_sq": part(v!, 2, [2, 1, 1, 1]),
    }
    const groups = [
      [
        { name: "lora.down", shape: [1, 2, 1, 1], dtype: "f32" as const },
        { name: "lora.up", shape: [2, 1, 1, 1], dtype: "f32" as const },
      ],
    ]
    const final = (r: typeof whole) => r.saved.find((s) => s.kind === "final")!.weights["lora.up"]!.data
    const converted = adamWOptimizer().convertSavedState!(old, groups)
    const resumed = await run({ resume: { ...state, states: converted } })
    expect(Array.from(final(resumed))).toEqual(Array.from(final(whole)))
    // Unconverted, the loop would take zero moments for the missing packed names: another run.
    const restarted = await run({ resume: { ...state, states: old } })
    expect(Array.from(final(restarted))).not.toEqual(Array.from(final(whole)))
  })

  it("stops at a NaN loss with the step named, before writing anything", async () => {
    const poisoned: Record<string, HostTensor> = {
      ...initial,
      base: hostTensor("f32", [2, 2, 1, 1], Float32Array.of(Number.NaN, 0, 0, 1)),
    }
    const zeros = (shape: ReadonlyArray<number>) =>
      hostTensor("f32", shape, new Float32Array(shape.reduce((a, b) => a * b, 1)))
    const { result, saved } = await run({
      initialState: (spec) => Effect.succeed(poisoned[spec.name] ?? zeros(spec.shape)),
    })
    expect(result._tag).toBe("Failure")
    const error = result._tag === "Failure" ? result.failure : undefined
    expect(error).toBeInstanceOf(TrainingDiverged)
    expect((error as TrainingDiverged).message).toMatch(/at step 1 \(epoch 1\).*learning rate/)
    expect(saved).toHaveLength(0)
  })
})
