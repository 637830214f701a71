import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { checkTrainConfig, formatIgnoredOption, resolveTrainConfig } from "@danlu/core"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { readDatasetConfigFile, readTrainConfigFile } from "../../src/train/configFile.js"

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/train/${name}`, import.meta.url))
const load = (path: string) => Effect.runPromise(readTrainConfigFile(path))
const loadError = (path: string) => Effect.runPromise(Effect.flip(readTrainConfigFile(path)))
const ignoredOf = (ignored: ReadonlyArray<{ key: string; reason: string }>) =>
  ignored.map((item) => `${item.key}: ${item.reason}`).sort()

const scratch = async (name: string, text: string): Promise<string> => {
  const path = join(await mkdtemp(join(tmpdir(), "danlu-config-")), name)
  await writeFile(path, text)
  return path
}

describe("readTrainConfigFile", () => {
  it("reads the kohya_ss GUI's flat config and lists what it does not use", async () => {
    const { options, ignored } = await load(fixture("kohya_ss-gui.toml"))
    expect(options).toMatchObject({
      pretrainedModelNameOrPath: "/home/me/models/v1-5-pruned-emaonly.safetensors",
      trainDataDir: "/home/me/lora/cat/img",
      resolution: { width: 512, height: 512 },
      networkDim: 32,
      networkAlpha: 16,
      networkArgs: {},
      optimizerArgs: {},
      optimizerType: "AdamW8bit",
      unetLr: 1e-4,
      textEncoderLr: 5e-5,
      maxTokenLength: 75,
      minSnrGamma: 5,
      saveEveryNEpochs: 2,
      trainBatchSize: 2,
    })
    expect(ignoredOf(ignored)).toEqual([
      "dynamo_backend: no effect in danlu",
      "epoch: not a kohya option",
      "lr_scheduler_args: no effect in danlu",
      "max_data_loader_n_workers: no effect in danlu",
      "noise_offset_type: not a kohya option",
      "persistent_data_loader_workers: no effect in danlu",
      "sdpa: no effect in danlu",
      "wandb_run_name: no effect in danlu",
    ])
    expect(formatIgnoredOption(ignored.find((item) => item.key === "sdpa")!)).toBe(
      "sdpa: no effect in danlu (attention runs in danlu's own kernels)",
    )
  })

  it("reads lora-scripts' sectioned config as sd-scripts flattens it", async () => {
    const { options, ignored } = await load(fixture("lora-scripts-sections.toml"))
    expect(options).toMatchObject({
      pretrainedModelNameOrPath: "./sd-models/meinamix_meinaV11.safetensors",
      resolution: { width: 512, height: 768 },
      networkArgs: { convDim: 8, convAlpha: 4 },
      lrScheduler: "cosine_with_restarts",
      maxTrainEpochs: 10,
      clipSkip: 2,
      maxTokenLength: 225,
      cacheLatents: true,
      shuffleCaption: true,
      keepTokens: 1,
    })
    expect("regDataDir" in options).toBe(false)
    expect(ignoredOf(ignored)).toEqual([
      "lowram: no effect in danlu",
      "lr_restart_cycles: not a kohya option",
      "save_n_epoch_ratio: no effect in danlu",
      "xformers: no effect in danlu",
    ])
  })

  it("reads 秋叶's SD-Trainer config with the UI's own fields listed", async () => {
    const { options, ignored } = await load(fixture("sd-trainer-gui.toml"))
    expect(options).toMatchObject({
      trainDataDir: "./train/he-tian-yi-lang",
      learningRate: 2e-4,
      networkDim: 32,
    })
    expect(ignoredOf(ignored)).toEqual([
      "enable_preview: not a kohya option",
      "log_with: no effect in danlu",
      "lowram: no effect in danlu",
      "model_train_type: not a kohya option",
      "persistent_data_loader_workers: no effect in danlu",
      "xformers: no effect in danlu",
    ])
  })

  it("gives configs that pass the pre-flight checks", async () => {
    for (const name of ["kohya_ss-gui.toml", "lora-scripts-sections.toml", "sd-trainer-gui.toml"]) {
      const config = resolveTrainConfig((await load(fixture(name))).options)
      const errors = checkTrainConfig(config).filter((problem) => problem.level === "error")
      expect(errors, name).toEqual([])
    }
  })

  it("adds .toml to a name without it, as kohya does", async () => {
    const { options } = await load(fixture("sd-trainer-gui"))
    expect(options.outputName).toBe("he-tian-yi-lang")
  })

  it("refuses a wrong value in one line naming the file, the key, the value and the type", async () => {
    const path = await scratch("bad.toml", '[training_arguments]\nnetwork_dim = "32"\n')
    const error = await loadError(path)
    expect(error.message).toBe(`${path}: network_dim = "32": expected an integer ≥ 1`)
    const typo = await loadError(await scratch("typo.toml", 'optimizer_type = "AdamW9bit"\n'))
    expect(typo.message).toContain('optimizer_type = "AdamW9bit": expected one of "AdamW", "AdamW8bit"')
  })

  it("says where a TOML syntax error is, in one line", async () => {
    const path = await scratch("broken.toml", "network_dim = 32\nnetwork_alpha = = 16\n")
    const error = await loadError(path)
    expect(error.message).toMatch(
      new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2:\\d+: not valid TOML`),
    )
    expect(error.message).not.toContain("\n")
    expect((await loadError(join(tmpdir(), "no-such-danlu-config.toml"))).message).toContain("does not exist")
  })

  it("turns kohya's legacy optimizer switches and misspelt caption_extention into options", async () => {
    const path = await scratch(
      "legacy.toml",
      'use_8bit_adam = true\ncaption_extention = ".txt"\nuse_lion_optimizer = false\n',
    )
    const { options, ignored } = await load(path)
    expect(options).toEqual({ optimizerType: "AdamW8bit", captionExtension: ".txt" })
    expect(ignored).toEqual([])
    const both = await scratch("both.toml", 'use_8bit_adam = true\noptimizer_type = "Lion"\n')
    expect((await loadError(both)).message).toContain(
      'use_8bit_adam = true: expected false when optimizer_type = "Lion"',
    )
  })

  it("suggests the option a misspelt key probably meant", async () => {
    const { ignored } = await load(
      await scratch("typo.toml", "netwrok_dim = 32\nmax_train_epoch = 10\nepoch = 10\n"),
    )
    expect(ignored.map((item) => `${item.key}: ${item.hint ?? ""}`)).toEqual([
      "netwrok_dim: did you mean network_dim?",
      "max_train_epoch: did you mean max_train_epochs?",
      "epoch: ",
    ])
  })

  it("lists network_args danlu does not read", async () => {
    const path = await scratch("args.toml", 'network_args = ["conv_dim=4", "down_lr_weight=sine"]\n')
    const { options, ignored } = await load(path)
    expect(options.networkArgs).toEqual({ convDim: 4 })
    expect(ignoredOf(ignored)).toEqual(["network_args.down_lr_weight: not supported by danlu"])
  })
})

describe("readDatasetConfigFile", () => {
  it("reads a dataset_config written as sd-scripts' docs write one", async () => {
    const options = resolveTrainConfig({ flipAug: false })
    const { datasets, ignored } = await Effect.runPromise(
      readDatasetConfigFile(fixture("dataset.toml"), options),
    )
    expect(
      datasets.map((dataset) => [dataset.resolution.width, dataset.batchSize, dataset.subsets.length]),
    ).toEqual([
      [512, 2, 3],
      [768, 1, 1],
    ])
    expect(
      datasets[0]?.subsets.map((subset) => [
        subset.numRepeats,
        subset.keepTokens,
        subset.flipAug,
        subset.isReg,
      ]),
    ).toEqual([
      [10, 2, false, false],
      [5, 3, true, false],
      [1, 2, false, true],
    ])
    expect(datasets[1]?.subsets[0]).toMatchObject({
      captionExtension: ".txt",
      keepTokens: 1,
      shuffleCaption: true,
    })
    expect(ignoredOf(ignored)).toEqual(["datasets[1].subsets[0].enable_wildcard: not supported by danlu"])
  })
})
