import { fileURLToPath } from "node:url"
import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { Command } from "effect/cli"
import { describe, expect, it, vi } from "vitest"
import {
  expandKohyaLists,
  keepLastFlagValues,
  resolveTrainFlags,
  type TrainSetup,
  trainFlags,
} from "../../src/train/flags.js"

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/train/${name}`, import.meta.url))

/** Parses `danlu train …args` with effect/cli, as the real command does, and resolves the setup. */
const parseTrain = async (args: ReadonlyArray<string>) => {
  let setup: TrainSetup | undefined
  const train = Command.make("train", trainFlags, (flags) =>
    Effect.map(resolveTrainFlags(flags), (resolved) => {
      setup = resolved
    }),
  )
  const printed = vi.spyOn(console, "log").mockImplementation(() => {})
  const errors = vi.spyOn(console, "error").mockImplementation(() => {})
  try {
    const exit = await Effect.runPromise(
      Command.runWith(train, { version: "0" })(expandKohyaLists(keepLastFlagValues(args))).pipe(
        Effect.provide(NodeServices.layer),
        Effect.exit,
      ),
    )
    const failure = Exit.isFailure(exit) ? exit.cause.reasons.find(Cause.isFailReason)?.error : undefined
    return {
      setup,
      error: failure as { message: string } | undefined,
      printed: printed.mock.calls.join("\n"),
    }
  } finally {
    printed.mockRestore()
    errors.mockRestore()
  }
}

describe("expandKohyaLists", () => {
  it("repeats a list flag for each of the values kohya lists after it", () => {
    expect(
      expandKohyaLists([
        "--optimizer_args",
        "weight_decay=0.1",
        "betas=0.9,0.99",
        "--network_dim",
        "32",
        "--network_args=conv_dim=4",
        "conv_alpha=2",
      ]),
    ).toEqual([
      "--optimizer_args",
      "weight_decay=0.1",
      "--optimizer_args",
      "betas=0.9,0.99",
      "--network_dim",
      "32",
      "--network_args=conv_dim=4",
      "--network_args",
      "conv_alpha=2",
    ])
    expect(expandKohyaLists(["--network_dim", "4", "--", "--optimizer_args", "a=1", "b=2"])).toEqual([
      "--network_dim",
      "4",
      "--",
      "--optimizer_args",
      "a=1",
      "b=2",
    ])
  })
})

describe("keepLastFlagValues", () => {
  it("keeps each flag's last group of values, as argparse does", () => {
    expect(
      keepLastFlagValues([
        "train",
        "--learning_rate",
        "1e-3",
        "--optimizer_args",
        "a=1",
        "b=2",
        "--learning_rate=1e-4",
        "--optimizer_args",
        "c=3",
        "--cache_latents",
        "--",
        "--learning_rate",
        "9",
      ]),
    ).toEqual([
      "train",
      "--learning_rate=1e-4",
      "--optimizer_args",
      "c=3",
      "--cache_latents",
      "--",
      "--learning_rate",
      "9",
    ])
  })
})

describe("danlu train flags", () => {
  it("takes a repeated option's last value, as kohya does", async () => {
    const { setup, error } = await parseTrain([
      "--network_dim",
      "8",
      "--optimizer_args",
      "weight_decay=0.1",
      "betas=0.9,0.99",
      "--network_dim",
      "32",
      "--optimizer_args",
      "weight_decay=0.2",
    ])
    expect(error).toBeUndefined()
    expect(setup?.config.networkDim).toBe(32)
    expect(setup?.config.optimizerArgs).toEqual({ weight_decay: 0.2 })
  })

  it("reads kohya's option names and value forms", async () => {
    const { setup, error } = await parseTrain([
      "--pretrained_model_name_or_path",
      "models/v1-5.safetensors",
      "--train_data_dir",
      "training",
      "--network_dim",
      "32",
      "--network_alpha=16",
      "--resolution",
      "512,768",
      "--learning_rate",
      "1e-4",
      "--cache_latents",
      "--shuffle_caption",
      "--optimizer_type",
      "adamw8bit",
      "--optimizer_args",
      "weight_decay=0.1",
      "betas=0.9,0.99",
      "--network_args",
      "conv_dim=8",
      "conv_alpha=4",
      "--max_train_epochs",
      "10",
      "--backend",
      "webgpu",
    ])
    expect(error).toBeUndefined()
    expect(setup?.config).toMatchObject({
      pretrainedModelNameOrPath: "models/v1-5.safetensors",
      trainDataDir: "training",
      networkDim: 32,
      networkAlpha: 16,
      resolution: { width: 512, height: 768 },
      learningRate: 1e-4,
      cacheLatents: true,
      shuffleCaption: true,
      optimizerType: "AdamW8bit",
      optimizerArgs: { weight_decay: 0.1, betas: [0.9, 0.99] },
      networkArgs: { convDim: 8, convAlpha: 4 },
      maxTrainEpochs: 10,
      backend: "webgpu",
      // not given: kohya's defaults
      maxTrainSteps: 1600,
      captionExtension: ".caption",
      flipAug: false,
    })
    expect(setup?.ignored).toEqual([])
  })

  it("takes the config file's values and lets flags override them", async () => {
    const { setup, error } = await parseTrain([
      "--config_file",
      fixture("lora-scripts-sections.toml"),
      "--network_dim",
      "64",
      "--network_args",
      "conv_alpha=8",
      "--no-shuffle_caption",
      "--xformers",
    ])
    expect(error).toBeUndefined()
    expect(setup?.config).toMatchObject({
      networkDim: 64,
      networkAlpha: 16,
      // a list on the command line replaces the file's, as in sd-scripts
      networkArgs: { convAlpha: 8 },
      shuffleCaption: false,
      trainDataDir: "./train/aki",
      maxTrainEpochs: 10,
    })
    expect(setup?.ignored.map((item) => item.key).sort()).toEqual([
      "lowram",
      "lr_restart_cycles",
      "save_n_epoch_ratio",
      "xformers",
    ])
  })

  it("reads dataset_config with the flags as its fallbacks", async () => {
    const { setup, error } = await parseTrain(["--dataset_config", fixture("dataset.toml"), "--flip_aug"])
    expect(error).toBeUndefined()
    expect(setup?.dataset?.datasets[0]?.subsets.map((subset) => subset.flipAug)).toEqual([true, true, true])
    expect(setup?.ignored.map((item) => item.key)).toEqual(["datasets[1].subsets[0].enable_wildcard"])
  })

  it("refuses a wrong value as the user typed it, in one line", async () => {
    expect((await parseTrain(["--network_dim", "abc"])).error?.message).toBe(
      "--network_dim abc: expected an integer ≥ 1",
    )
    expect((await parseTrain(["--resolution", "512x"])).error?.message).toContain(
      "--resolution 512x: expected a size",
    )
    expect((await parseTrain(["--lr_scheduler", "cosine_annealing"])).error?.message).toContain(
      '--lr_scheduler cosine_annealing: expected one of "constant"',
    )
    expect((await parseTrain(["--optimizer_args", "weight_decay"])).error?.message).toContain(
      "--optimizer_args weight_decay: expected key=value",
    )
  })
})
