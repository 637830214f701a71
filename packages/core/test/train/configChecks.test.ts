import { describe, expect, it } from "vitest"
import { resolveTrainConfig, type TrainConfig } from "../../src/train/config.js"
import { checkTrainConfig, totalTrainSteps, warmupSteps } from "../../src/train/configChecks.js"

/** The guide's values: 10 epochs, batch 2, lr 2e-4, rank 32 / alpha 16, shuffle, save every 2 epochs. */
const guide = resolveTrainConfig({
  pretrainedModelNameOrPath: "models/v1-5-pruned.safetensors",
  trainDataDir: "training",
  outputDir: "output",
  outputName: "cat",
  maxTrainEpochs: 10,
  trainBatchSize: 2,
  learningRate: 2e-4,
  networkDim: 32,
  networkAlpha: 16,
  shuffleCaption: true,
  saveEveryNEpochs: 2,
  resolution: { width: 512, height: 768 },
  enableBucket: true,
  captionExtension: ".txt",
})

const { maxTrainEpochs: _epochs, ...guideWithoutEpochs } = guide

const problemsOf = (change: Partial<TrainConfig>, batchesPerEpoch?: number) =>
  checkTrainConfig({ ...guide, ...change }, batchesPerEpoch === undefined ? {} : { batchesPerEpoch }).map(
    (problem) => `${problem.level} ${problem.key}`,
  )

describe("checkTrainConfig", () => {
  it("finds nothing wrong with the guide's values", () => {
    expect(checkTrainConfig(guide, { batchesPerEpoch: 100 })).toEqual([])
  })

  it("counts steps as sd-scripts does", () => {
    // 200 images × repeats at batch 2 = 100 batches; accumulating 4 → ceil(100/4) = 25 steps an epoch.
    const config = { ...guide, gradientAccumulationSteps: 4 }
    expect(totalTrainSteps(config, 100)).toBe(250)
    expect(totalTrainSteps(config)).toBeUndefined()
    expect(totalTrainSteps(guideWithoutEpochs)).toBe(1600)
    expect(warmupSteps({ ...guide, lrWarmupSteps: 0.1 }, 250)).toBe(25)
    expect(warmupSteps({ ...guide, lrWarmupSteps: 40 }, 250)).toBe(40)
  })

  it("names each broken option once, errors first, one line each", () => {
    const cases: Array<[Readonly<Record<string, unknown>>, string, number?]> = [
      [{ lrWarmupSteps: 1000, lrScheduler: "constant_with_warmup" }, "error lr_warmup_steps", 100],
      [{ lrWarmupSteps: 50 }, "warning lr_warmup_steps"],
      [{ networkTrainUnetOnly: true, networkTrainTextEncoderOnly: true }, "error network_train_unet_only"],
      [{ networkArgs: { convDim: 8 } }, "warning network_args"],
      [{ resolution: { width: 512, height: 700 } }, "error resolution"],
      [{ minBucketReso: 1024, maxBucketReso: 896 }, "error min_bucket_reso"],
      [{ bucketResoSteps: 32, minBucketReso: 256, maxBucketReso: 1024 }, "error bucket_reso_steps"],
      [{ maxBucketReso: 640 }, "warning max_bucket_reso"],
      [{ saveEveryNEpochs: 12 }, "warning save_every_n_epochs"],
      [{ learningRate: 1e-2 }, "warning learning_rate"],
      [{ learningRate: 2e-6 }, "warning learning_rate"],
      [{ unetLr: 5e-3 }, "warning unet_lr"],
      [{ cacheLatents: true, colorAug: true }, "error cache_latents"],
      [{ cacheTextEncoderOutputs: true, networkTrainUnetOnly: true }, "error cache_text_encoder_outputs"],
      [{ noiseOffset: 0.1, multiresNoiseIterations: 6 }, "error noise_offset"],
      [{ adaptiveNoiseScale: 0.01 }, "error adaptive_noise_scale"],
      [{ fullFp16: true }, "error full_fp16"],
      [{ minTimestep: 500, maxTimestep: 500 }, "error min_timestep"],
      [{ captionExtension: "txt" }, "error caption_extension"],
      [{ lrScheduler: "adafactor" }, "error lr_scheduler"],
      [{ networkAlpha: 64 }, "warning network_alpha"],
      [{ vParameterization: true }, "warning v_parameterization"],
      [{ sampleEveryNEpochs: 1 }, "warning sample_prompts"],
      [{ saveLastNEpochs: 2, saveEveryNEpochs: undefined }, "warning save_last_n_epochs"],
      [{ optimizerType: "Prodigy", learningRate: 1e-4 }, "warning learning_rate"],
      [{ keepTokens: 1, shuffleCaption: false }, "warning keep_tokens"],
      [{ datasetConfig: "dataset.toml" }, "warning train_data_dir"],
    ]
    for (const [change, expected, batches] of cases) {
      expect(problemsOf(change, batches), JSON.stringify(change)).toEqual([expected])
    }
  })

  it("refuses a config that names no model, no data and no output folder", () => {
    const bare = resolveTrainConfig({ maxTrainEpochs: 10, learningRate: 1e-4 })
    const problems = checkTrainConfig(bare)
    expect(problems.map((problem) => problem.key)).toEqual([
      "pretrained_model_name_or_path",
      "train_data_dir",
      "output_dir",
    ])
    for (const problem of problems) expect(problem.message).not.toContain("\n")
  })

  it("warns about kohya's hidden 1600 steps and about max_train_steps that epochs override", () => {
    const stepsOnly = checkTrainConfig(guideWithoutEpochs)
    expect(stepsOnly.map((problem) => problem.key)).toEqual(["max_train_steps"])
    expect(stepsOnly[0]?.message).toContain("1600")
    expect(problemsOf({ maxTrainSteps: 3000 })).toEqual(["warning max_train_steps"])
  })

  it("puts errors before warnings", () => {
    const levels = checkTrainConfig({ ...guide, fullBf16: true, learningRate: 1 }).map(
      (problem) => problem.level,
    )
    expect(levels).toEqual(["error", "warning"])
  })
})

describe("precision options", () => {
  it("takes full_fp16 / full_bf16 with their mixed_precision, and refuses any other pairing in one line as kohya does", () => {
    const precision = (p: { readonly key: string }) => /precision|full_/.test(p.key)
    const problems = (config: Parameters<typeof resolveTrainConfig>[0]) =>
      checkTrainConfig(resolveTrainConfig(config)).filter(precision)
    expect(problems({ mixedPrecision: "bf16" })).toEqual([])
    expect(problems({ mixedPrecision: "bf16", fullBf16: true })).toEqual([])
    expect(problems({ mixedPrecision: "fp16", fullFp16: true })).toEqual([])
    expect(problems({ mixedPrecision: "bf16", fullFp16: true })).toEqual([
      expect.objectContaining({
        level: "error",
        key: "full_fp16",
        message: 'full_fp16 requires mixed_precision = "fp16" (it is "bf16")',
      }),
    ])
    expect(problems({ fullBf16: true })).toEqual([
      expect.objectContaining({
        level: "error",
        key: "full_bf16",
        message: 'full_bf16 requires mixed_precision = "bf16" (it is "no")',
      }),
    ])
    expect(problems({ mixedPrecision: "bf16", fullBf16: true, backend: "webgpu" })).toEqual([
      expect.objectContaining({
        level: "error",
        key: "full_bf16",
        message: expect.stringMatching(/^full_bf16 cannot run on the webgpu backend/),
      }),
    ])
    expect(problems({ mixedPrecision: "fp16", fullFp16: true, backend: "webgpu" })).toEqual([])
    expect(problems({ mixedPrecision: "fp16", fullFp16: true, fullBf16: true })).toEqual([
      expect.objectContaining({ level: "error", key: "full_bf16" }),
    ])
  })
})
