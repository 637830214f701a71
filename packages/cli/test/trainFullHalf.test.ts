import { join } from "node:path"
import { layer as onnxLayer } from "@danlu/backend-onnx"
import { WebGpu } from "@danlu/backend-webgpu"
import { type Backend, Reference, resolveTrainConfig, type TrainConfig, type TrainResult } from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { backendRequired } from "@danlu/core/testing"
import { train } from "@danlu/dataset"
import { Effect, type Exit, type Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"
import { metadataOf, microTrainingSet, tensorBytes } from "./trainFixtures.js"

let root = ""
let model = ""
let data = ""

beforeAll(async () => {
  ;({ root, model, data } = await microTrainingSet("danlu-train-full-half-"))
}, 60_000)

const cliArgs = (out: string, ...extra: ReadonlyArray<string>) => [
  "train",
  ...["--pretrained_model_name_or_path", model, "--train_data_dir", data, "--output_dir", out],
  ...["--output_name", "sks", "--resolution", "16", "--network_dim", "4", "--network_alpha", "2"],
  ...["--learning_rate", "1e-2", "--train_batch_size", "2", "--caption_extension", ".txt", "--seed", "7"],
  ...["--backend", "reference"],
  ...extra,
]

let runs = 0
/** The step losses and result of an in-process run of `train`, stopped after `stopAfter` steps if given. */
const run = async (
  layer: Layer.Layer<Backend, unknown>,
  options: Partial<TrainConfig>,
  stopAfter?: number,
) => {
  const outputDir = options.outputDir ?? join(root, `out${runs++}`)
  const losses: Array<number> = []
  const exit: Exit.Exit<TrainResult, unknown> = await Effect.runPromiseExit(
    Effect.scoped(
      train(
        resolveTrainConfig({
          pretrainedModelNameOrPath: model,
          trainDataDir: data,
          outputDir,
          outputName: "sks",
          resolution: { width: 16, height: 16 },
          networkDim: 4,
          networkAlpha: 2,
          learningRate: 1e-2,
          trainBatchSize: 2,
          maxTrainSteps: 2,
          captionExtension: ".txt",
          seed: 7,
          ...options,
        }),
        {
          emit: (event) => {
            if (event.type === "step") losses.push(event.loss)
          },
          stopRequested: () => stopAfter !== undefined && losses.length >= stopAfter,
        },
      ),
    ).pipe(Effect.provide(layer)),
  )
  return { exit, losses, file: join(outputDir, "sks.safetensors") }
}

const closeTo = (actual: ReadonlyArray<number>, expected: ReadonlyArray<number>, relative: number) => {
  expect(actual).toHaveLength(expected.length)
  for (const [i, loss] of actual.entries())
    expect(Math.abs(loss - expected[i]!)).toBeLessThanOrEqual(relative * Math.abs(expected[i]!) + 1e-6)
}

describe("full_fp16 / full_bf16", () => {
  it("danlu train --full_bf16 writes a bf16 LoRA that loads (a second run starts from it); the mismatched pairings are refused in one line", async () => {
    const out = join(root, "cli")
    const trained = await runCli(
      cliArgs(out, "--mixed_precision", "bf16", "--full_bf16", "--max_train_steps", "2"),
    )
    expect(trained.error).toBeUndefined()
    const file = join(out, "sks.safetensors")
    const metadata = await metadataOf(file)
    expect([metadata.ss_mixed_precision, metadata.ss_full_fp16, metadata.ss_full_bf16]).toEqual([
      "bf16",
      "False",
      "True",
    ])
    // save_precision unset keeps the dtype the weights were trained in, as kohya's save_weights(None).
    const dtypes = await Effect.runPromise(
      Effect.scoped(Effect.map(openModelFile(file), (f) => new Set(f.tensors.map((t) => t.dtype)))),
    )
    expect([...dtypes]).toEqual(["BF16"])
    const again = await runCli(
      cliArgs(
        join(root, "cli2"),
        "--mixed_precision",
        "bf16",
        "--full_bf16",
        "--max_train_steps",
        "1",
        "--network_weights",
        file,
      ),
    )
    expect(again.error).toBeUndefined()

    const fp16OnBf16 = await runCli(cliArgs(join(root, "bad1"), "--mixed_precision", "bf16", "--full_fp16"))
    expect(fp16OnBf16.error?.message).toBe('full_fp16 requires mixed_precision = "fp16" (it is "bf16")')
    const bf16Alone = await runCli(cliArgs(join(root, "bad2"), "--full_bf16"))
    expect(bf16Alone.error?.message).toBe('full_bf16 requires mixed_precision = "bf16" (it is "no")')
  }, 300_000)

  it("save_state → resume with full_bf16 ends bit-identical to an uninterrupted run on the reference", async () => {
    const options = { mixedPrecision: "bf16", fullBf16: true, maxTrainSteps: 3, saveState: true } as const
    const whole = await run(Reference.layer, { ...options, outputDir: join(root, "whole") })
    expect(whole.exit._tag).toBe("Success")
    const parts = join(root, "parts")
    const stopped = await run(Reference.layer, { ...options, outputDir: parts }, 1)
    if (stopped.exit._tag !== "Success") throw new Error(String(stopped.exit.cause))
    expect(stopped.exit.value.interrupted).toBe(true)
    const resumed = await run(Reference.layer, {
      ...options,
      outputDir: parts,
      resume: stopped.exit.value.statePath!,
    })
    expect(resumed.exit._tag).toBe("Success")
    expect([...stopped.losses, ...resumed.losses]).toEqual(whole.losses)
    expect(await tensorBytes(resumed.file)).toEqual(await tensorBytes(whole.file))
    // The state holds the LoRA weights and moments as trained: bf16 bits, nothing widened.
    const stateDtypes = await Effect.runPromise(
      Effect.scoped(
        Effect.map(openModelFile(join(stopped.exit.value.statePath!, "state.safetensors")), (f) =>
          Object.fromEntries(f.tensors.map((t) => [t.name, t.dtype])),
        ),
      ),
    )
    const lora = Object.entries(stateDtypes).filter(([name]) => name.includes("lora_"))
    expect(lora.length).toBeGreaterThan(0)
    for (const [name, dtype] of lora) expect([name, dtype]).toEqual([name, "BF16"])
  }, 300_000)

  it("gives the reference's losses on ONNX Runtime and WebGPU; WebGPU refuses full_bf16 before the first step", async () => {
    for (const [mixedPrecision, full] of [
      ["fp16", { fullFp16: true }],
      ["bf16", { fullBf16: true }],
    ] as const) {
      const options = { mixedPrecision, ...full, maxTrainSteps: 2 }
      const reference = await run(Reference.layer, options)
      expect(reference.losses).toHaveLength(2)
      const onnx = await run(onnxLayer, options)
      closeTo(onnx.losses, reference.losses, 1e-4)
      const webgpu = await run(WebGpu.layer(), options)
      if (webgpu.exit._tag === "Failure" && !String(webgpu.exit.cause).includes("full_bf16 cannot run")) {
        if (backendRequired("webgpu")) throw new Error(`WebGPU failed: ${String(webgpu.exit.cause)}`)
        console.warn(`WebGPU part skipped: ${String(webgpu.exit.cause).split("\n")[0]}`)
        continue
      }
      if (mixedPrecision === "fp16") closeTo(webgpu.losses, reference.losses, 1e-3)
      else {
        expect(webgpu.losses).toEqual([])
        expect(String(webgpu.exit)).toContain(
          "full_bf16 cannot run on the webgpu backend: it cannot write bf16 weights (it computes in f32, f16); use full_fp16 with mixed_precision fp16, or another backend",
        )
      }
    }
  }, 300_000)
})
