import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer as onnxLayer } from "@danlu/backend-onnx"
import { WebGpu } from "@danlu/backend-webgpu"
import {
  Backend,
  castHostFloat,
  fromHostTensor,
  Reference,
  resolveTrainConfig,
  type StoredTensor,
  syntheticCheckpoint,
  type TrainConfig,
  tensorsInMemory,
  toHostTensor,
  writeSafetensors,
} from "@danlu/core"
import { writeFileAtomic } from "@danlu/core/node"
import { backendRequired } from "@danlu/core/testing"
import { type TrainRunEvent, train } from "@danlu/dataset"
import { Effect, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { metadataOf, microSd1, tensorBytes, writeCheckpoint, writeSquares } from "./trainFixtures.js"

let root = ""
let model = ""
const rounded: Record<"fp16" | "bf16", string> = { fp16: "", bf16: "" }

/** The micro checkpoint with every weight rounded to f16 or bf16 and stored back as f32. */
const writeRounded = (path: string, dtype: "f16" | "bf16") => {
  const { tensors, metadata } = syntheticCheckpoint(microSd1, 3)
  const out: Record<string, StoredTensor> = {}
  for (const [name, stored] of Object.entries(tensors))
    out[name] = fromHostTensor(castHostFloat(castHostFloat(toHostTensor(stored), dtype), "f32"))
  return Effect.runPromise(
    writeFileAtomic(path, (sink) => writeSafetensors(sink, tensorsInMemory(out, metadata)), {
      existing: "refuse",
    }),
  )
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-train-precision-"))
  model = join(root, "micro-sd1.safetensors")
  await writeCheckpoint(model)
  rounded.fp16 = join(root, "micro-sd1-f16-rounded.safetensors")
  rounded.bf16 = join(root, "micro-sd1-bf16-rounded.safetensors")
  await writeRounded(rounded.fp16, "f16")
  await writeRounded(rounded.bf16, "bf16")
  await writeSquares(join(root, "train"), 4, 2)
}, 60_000)

/** A backend that counts the bytes uploaded to it, by dtype. */
const counting = (inner: Layer.Layer<Backend, unknown>, bytes: Record<string, number>) =>
  Layer.effect(
    Backend,
    Effect.gen(function* () {
      const backend = yield* Backend
      return {
        ...backend,
        upload: (host: Parameters<typeof backend.upload>[0]) => {
          bytes[host.dtype] = (bytes[host.dtype] ?? 0) + host.data.byteLength
          return backend.upload(host)
        },
      }
    }),
  ).pipe(Layer.provide(inner))

let runs = 0
/** The step losses, uploaded bytes by dtype and the LoRA file of a 2-step run. */
const run = async (
  layer: Layer.Layer<Backend, unknown>,
  options: Partial<TrainConfig> & { model?: string },
) => {
  const outputDir = join(root, `out${runs++}`)
  const config = resolveTrainConfig({
    pretrainedModelNameOrPath: options.model ?? model,
    trainDataDir: join(root, "train"),
    outputDir,
    outputName: "sks",
    resolution: { width: 16, height: 16 },
    networkDim: 4,
    networkAlpha: 2,
    learningRate: 1e-2,
    trainBatchSize: 2,
    maxTrainSteps: 2,
    seed: 5,
    captionExtension: ".txt",
    ...options,
  })
  const losses: Array<number> = []
  const emit = (event: TrainRunEvent) => {
    if (event.type === "step") losses.push(event.loss)
  }
  const bytes: Record<string, number> = {}
  const exit = await Effect.runPromiseExit(
    Effect.scoped(train(config, { emit, stopRequested: () => false })).pipe(
      Effect.provide(counting(layer, bytes)),
    ),
  )
  return { exit, losses, bytes, file: join(outputDir, "sks.safetensors") }
}

const closeTo = (actual: ReadonlyArray<number>, expected: ReadonlyArray<number>, relative: number) => {
  expect(actual).toHaveLength(expected.length)
  for (const [i, loss] of actual.entries())
    expect(Math.abs(loss - expected[i]!)).toBeLessThanOrEqual(relative * Math.abs(expected[i]!) + 1e-6)
}

describe("mixed_precision", () => {
  const referenceRuns: Partial<Record<"fp16" | "bf16", Awaited<ReturnType<typeof run>>>> = {}

  it("trains with half base weights: f32 math on rounded weights, half the bytes, named in the file", async () => {
    const f32 = await run(Reference.layer, {})
    expect(f32.losses).toHaveLength(2)
    for (const precision of ["fp16", "bf16"] as const) {
      const half = await run(Reference.layer, { mixedPrecision: precision })
      referenceRuns[precision] = half
      // Exactly the f32 run on a checkpoint rounded to half: the cast to f32 at each read is exact.
      const onRounded = await run(Reference.layer, { model: rounded[precision] })
      expect(half.losses).toEqual(onRounded.losses)
      expect(await tensorBytes(half.file)).toEqual(await tensorBytes(onRounded.file))
      // Close to the unrounded f32 run: within 64 units of the half type's rounding (2^-11, 2^-8).
      closeTo(half.losses, f32.losses, 64 * (precision === "fp16" ? 2 ** -11 : 2 ** -8))
      // Base weights go up in half; everything else (LoRA, moments) stays f32.
      const halfDtype = precision === "fp16" ? "f16" : "bf16"
      expect(half.bytes[halfDtype]).toBeGreaterThan(0)
      expect(half.bytes.f32! + 2 * half.bytes[halfDtype]!).toBe(f32.bytes.f32!)
      expect((await metadataOf(half.file)).ss_mixed_precision).toBe(precision)
    }
  }, 300_000)

  it("gives the reference's losses on ONNX Runtime and WebGPU", async () => {
    for (const precision of ["fp16", "bf16"] as const) {
      const reference =
        referenceRuns[precision] ?? (await run(Reference.layer, { mixedPrecision: precision }))
      const onnx = await run(onnxLayer, { mixedPrecision: precision })
      closeTo(onnx.losses, reference.losses, 1e-4)
      const webgpu = await run(WebGpu.layer(), { mixedPrecision: precision })
      if (webgpu.exit._tag === "Failure") {
        if (backendRequired("webgpu")) throw new Error(`WebGPU failed: ${String(webgpu.exit.cause)}`)
        console.warn(`WebGPU part skipped: ${String(webgpu.exit.cause).split("\n")[0]}`)
        continue
      }
      closeTo(webgpu.losses, reference.losses, 1e-3)
    }
  }, 300_000)
})
