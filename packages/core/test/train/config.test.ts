import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  ConfigError,
  decodeTrainOptions,
  defaultTrainConfig,
  kohyaOptionName,
  mergeTrainOptions,
  parseOptimizerArgValue,
  parseResolution,
  resolveTrainConfig,
  type TrainConfig,
  trainConfigKey,
  trainOptionSpecs,
  validateTrainConfig,
} from "../../src/train/config.js"

const decode = (values: Record<string, unknown>, origin: "toml" | "text" = "toml") =>
  Effect.runSync(decodeTrainOptions(values, origin))
const decodeError = (values: Record<string, unknown>, origin: "toml" | "text" = "toml") =>
  Effect.runSync(Effect.flip(decodeTrainOptions(values, origin, "config.toml")))

describe("TrainConfig names", () => {
  it("every field is kohya's option name in camelCase, and back", () => {
    for (const key of Object.keys(trainOptionSpecs)) {
      const kohya = kohyaOptionName(key)
      expect(kohya).toMatch(/^[a-z0-9_]+$/)
      expect(trainConfigKey(kohya)).toBe(key)
    }
  })

  it("knows sd-scripts' option names as kohya spells them", () => {
    // Written out from sd-scripts' argparse (train_util.py, train_network.py), not derived from the fields.
    const names = [
      "pretrained_model_name_or_path",
      "v_parameterization",
      "train_data_dir",
      "reg_data_dir",
      "dataset_config",
      "save_every_n_epochs",
      "save_last_n_epochs",
      "max_train_epochs",
      "min_bucket_reso",
      "bucket_reso_steps",
      "caption_dropout_every_n_epochs",
      "caption_tag_dropout_rate",
      "cache_latents_to_disk",
      "cache_text_encoder_outputs",
      "network_train_unet_only",
      "network_train_text_encoder_only",
      "text_encoder_lr",
      "lr_scheduler_num_cycles",
      "gradient_accumulation_steps",
      "full_bf16",
      "full_fp16",
      "clip_skip",
      "max_token_length",
      "multires_noise_iterations",
      "ip_noise_gamma",
      "min_snr_gamma",
      "scale_v_pred_loss_like_noise_pred",
      "debiased_estimation_loss",
      "zero_terminal_snr",
      "huber_c",
      "huber_schedule",
      "prior_loss_weight",
      "masked_loss",
      "alpha_mask",
      "metadata_title",
      "sample_every_n_steps",
      "sample_at_first",
      "validation_split",
      "v2",
    ]
    for (const name of names) expect(trainConfigKey(name), name).toBeDefined()
    expect(trainConfigKey("xformers")).toBeUndefined()
  })

  it("has kohya's defaults", () => {
    expect(defaultTrainConfig).toMatchObject({
      learningRate: 2e-6,
      maxTrainSteps: 1600,
      networkDim: 4,
      networkAlpha: 1,
      captionExtension: ".caption",
      maxGradNorm: 1,
      huberC: 0.1,
      multiresNoiseDiscount: 0.3,
      sampleSampler: "ddim",
      lrScheduler: "constant",
      optimizerType: "AdamW",
      bucketResoSteps: 64,
      minBucketReso: 256,
      maxBucketReso: 1024,
      priorLossWeight: 1,
    })
    expect(defaultTrainConfig.seed).toBeUndefined()
    expect(defaultTrainConfig.maxTrainEpochs).toBeUndefined()
  })
})

describe("decodeTrainOptions", () => {
  it("reads TOML values into typed fields", () => {
    const { options, unknownKeys } = decode({
      network_dim: 32,
      network_alpha: 16,
      learning_rate: 1e-4,
      resolution: "512,768",
      shuffle_caption: true,
      optimizer_type: "adamw8bit",
      lr_warmup_steps: 0.1,
      xformers: true,
    })
    expect(options).toEqual({
      networkDim: 32,
      networkAlpha: 16,
      learningRate: 1e-4,
      resolution: { width: 512, height: 768 },
      shuffleCaption: true,
      optimizerType: "AdamW8bit",
      lrWarmupSteps: 0.1,
    })
    expect(unknownKeys).toEqual(["xformers"])
  })

  it("refuses a wrong type in one line naming the key, the value and what is expected", () => {
    const error = decodeError({ network_dim: "32" })
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toBe('config.toml: network_dim = "32": expected an integer ≥ 1')
    expect(decodeError({ shuffle_caption: "yes" }).message).toContain(
      'shuffle_caption = "yes": expected true or false',
    )
    expect(decodeError({ caption_dropout_rate: 1.5 }).message).toContain("expected a number from 0 to 1")
    expect(decodeError({ network_dim: 2.5 }).message).toContain("network_dim = 2.5")
    expect(decodeError({ lr_scheduler: "cosine_annealing" }).message).toContain('one of "constant"')
    expect(decodeError({ max_token_length: 100 }).message).toContain("one of 75, 150, 225")
    expect(decodeError({ resolution: "512x" }).message).toContain('resolution = "512x"')
    expect(decodeError({ lr_warmup_steps: 2.5 }).message).toContain("lr_warmup_steps = 2.5")
    for (const error of [decodeError({ network_dim: 0 }), decodeError({ output_dir: 3 })]) {
      expect(error.message).not.toContain("\n")
    }
  })

  it("accepts network_alpha = 0, which kohya reads as alpha = rank", () => {
    expect(decode({ network_alpha: 0 }).options).toEqual({ networkAlpha: 0 })
    expect(decodeError({ network_alpha: -1 }).message).toContain("network_alpha = -1: expected a number ≥ 0")
  })

  it("parses flag text but keeps TOML's types strict", () => {
    expect(decode({ network_dim: "32", learning_rate: "1e-4", resolution: "768" }, "text").options).toEqual({
      networkDim: 32,
      learningRate: 1e-4,
      resolution: { width: 768, height: 768 },
    })
    expect(decodeError({ learning_rate: "1e-4" }).message).toContain("expected a number")
  })

  it("reads kohya's resolution forms", () => {
    expect(parseResolution(512)).toEqual({ width: 512, height: 512 })
    expect(parseResolution("512,768")).toEqual({ width: 512, height: 768 })
    expect(parseResolution(" 640 , 448 ")).toEqual({ width: 640, height: 448 })
    expect(parseResolution([768, 512])).toEqual({ width: 768, height: 512 })
    for (const bad of ["", "512,", "5a", 500, [512, 512, 512], "512,768,1"])
      expect(parseResolution(bad)).toBeUndefined()
  })

  it("reads optimizer_args as kohya's literal_eval does", () => {
    expect(parseOptimizerArgValue("0.1")).toBe(0.1)
    expect(parseOptimizerArgValue("True")).toBe(true)
    expect(parseOptimizerArgValue("None")).toBeNull()
    expect(parseOptimizerArgValue("'cosine'")).toBe("cosine")
    expect(parseOptimizerArgValue("0.9,0.99")).toEqual([0.9, 0.99])
    expect(parseOptimizerArgValue("(0.9, 0.999)")).toEqual([0.9, 0.999])
    expect(parseOptimizerArgValue("cosine")).toBeUndefined()
    const { options } = decode({ optimizer_args: ["weight_decay=0.1", "betas=0.9,0.99", "decouple=True"] })
    expect(options.optimizerArgs).toEqual({ weight_decay: 0.1, betas: [0.9, 0.99], decouple: true })
    // One string holding several, as the kohya_ss GUI's text box writes them.
    expect(decode({ optimizer_args: "weight_decay=0.01 eps=1e-8" }).options.optimizerArgs).toEqual({
      weight_decay: 0.01,
      eps: 1e-8,
    })
    expect(decodeError({ optimizer_args: ["weight_decay"] }).message).toContain("expected key=value")
    expect(decodeError({ optimizer_args: ["d_coef=two"] }).message).toContain('"d_coef=two"')
  })

  it("reads network_args and lists the ones danlu does not know", () => {
    const { options, unknownKeys } = decode({
      network_args: ["conv_dim=8", "conv_alpha=4", "block_dims=2,4,4,8"],
    })
    expect(options.networkArgs).toEqual({ convDim: 8, convAlpha: 4 })
    expect(unknownKeys).toEqual(["network_args.block_dims"])
    expect(decodeError({ network_args: ["conv_dim=0"] }).message).toContain("conv_dim=an integer ≥ 1")
  })

  it("reads a GUI's empty string as unset for optional paths only", () => {
    expect(decode({ reg_data_dir: "", keep_tokens_separator: "" }).options).toEqual({
      keepTokensSeparator: "",
    })
  })
})

describe("resolveTrainConfig", () => {
  it("fills kohya's defaults under the given options", () => {
    const config = resolveTrainConfig({ networkDim: 32, trainDataDir: "train" })
    expect(config.networkDim).toBe(32)
    expect(config.trainDataDir).toBe("train")
    expect(config.networkAlpha).toBe(1)
    expect(config.maxTrainSteps).toBe(1600)
    expect("seed" in config).toBe(false)
  })

  it("layers options with later ones winning, argument lists replaced whole as in sd-scripts", () => {
    const merged = mergeTrainOptions(
      { networkDim: 16, networkArgs: { convDim: 8, convAlpha: 4 }, optimizerArgs: { weight_decay: 0.1 } },
      { networkDim: 32, networkArgs: { convAlpha: 2 }, optimizerArgs: { eps: 1e-8 } },
    )
    expect(merged).toEqual({
      networkDim: 32,
      networkArgs: { convAlpha: 2 },
      optimizerArgs: { eps: 1e-8 },
    })
  })

  it("validates a typed config and writes choices in kohya's spelling", () => {
    const base = resolveTrainConfig({})
    const fixed = Effect.runSync(
      validateTrainConfig({ ...base, optimizerType: "prodigy" as TrainConfig["optimizerType"] }),
    )
    expect(fixed.optimizerType).toBe("Prodigy")
    const failures: Array<[Partial<TrainConfig>, string]> = [
      [{ networkDim: 0 }, "network_dim = 0"],
      [{ resolution: { width: 500, height: 512 } }, "resolution = "],
      [{ networkArgs: { rankDropout: 2 } }, "rank_dropout=2"],
      [{ captionDropoutRate: -0.1 }, "caption_dropout_rate = -0.1"],
    ]
    for (const [change, text] of failures) {
      const error = Effect.runSync(Effect.flip(validateTrainConfig({ ...base, ...change })))
      expect(error.message).toContain(text)
    }
  })
})
