import { ConfigError, resolveTrainConfig } from "@danlu/core"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { checkDatasetConfig } from "../src/config/checkDatasetConfig.js"
import { parseDatasetConfig } from "../src/config/datasetConfig.js"

const options = resolveTrainConfig({ trainBatchSize: 2, captionExtension: ".txt", flipAug: true })
const parse = (document: unknown) => Effect.runSync(parseDatasetConfig(document, options, "dataset.toml"))
const parseError = (document: unknown) =>
  Effect.runSync(Effect.flip(parseDatasetConfig(document, options, "dataset.toml")))

/** The example of sd-scripts' docs/config_README-en.md, as smol-toml parses it. */
const kohyaExample = {
  general: { shuffle_caption: true, caption_extension: ".txt", keep_tokens: 1 },
  datasets: [
    {
      resolution: 512,
      batch_size: 4,
      keep_tokens: 2,
      subsets: [
        { image_dir: "C:\\hoge", class_tokens: "hoge girl" },
        { image_dir: "C:\\fuga", class_tokens: "fuga boy", keep_tokens: 3 },
        { is_reg: true, image_dir: "C:\\reg", class_tokens: "human", keep_tokens: 1 },
      ],
    },
    {
      resolution: [768, 768],
      batch_size: 2,
      subsets: [{ image_dir: "C:\\piyo", metadata_file: "C:\\piyo\\piyo_md.json" }],
    },
  ],
}

describe("parseDatasetConfig", () => {
  it("resolves each option from the subset, its dataset, [general], then the training options", () => {
    const { datasets, ignored } = parse(kohyaExample)
    expect(datasets).toHaveLength(2)
    const [first, second] = datasets
    expect(first?.resolution).toEqual({ width: 512, height: 512 })
    expect(first?.batchSize).toBe(4)
    expect(first?.subsets.map((subset) => subset.keepTokens)).toEqual([2, 3, 1])
    expect(first?.subsets.map((subset) => subset.isReg)).toEqual([false, false, true])
    expect(first?.subsets[0]).toMatchObject({
      imageDir: "C:\\hoge",
      classTokens: "hoge girl",
      numRepeats: 1,
      shuffleCaption: true,
      captionExtension: ".txt",
      // not in the file: the training options' value
      flipAug: true,
      captionSeparator: ",",
    })
    expect(second?.resolution).toEqual({ width: 768, height: 768 })
    expect(second?.subsets[0]?.keepTokens).toBe(1)
    expect(second?.enableBucket).toBe(false)
    expect(ignored).toEqual([
      {
        key: "datasets[1].subsets[0].metadata_file",
        reason: "not supported by danlu",
        hint: "fine-tuning metadata; use image_dir with caption files",
      },
    ])
  })

  it("takes the batch size from train_batch_size and repeats from any level", () => {
    const { datasets } = parse({
      general: { num_repeats: 10 },
      datasets: [{ subsets: [{ image_dir: "a" }, { image_dir: "b", num_repeats: 2 }] }],
    })
    expect(datasets[0]?.batchSize).toBe(2)
    expect(datasets[0]?.subsets.map((subset) => subset.numRepeats)).toEqual([10, 2])
  })

  it("lists unknown, unsupported and misplaced keys with their place", () => {
    const { ignored } = parse({
      general: { enable_wildcard: true, image_dir: "x" },
      datasets: [{ subsets: [{ image_dir: "a", flip_agu: true, batch_size: 3 }] }],
      extra: 1,
    })
    expect(ignored.map((item) => `${item.key}: ${item.reason}`)).toEqual([
      "extra: not a kohya option",
      "general.enable_wildcard: not supported by danlu",
      "general.image_dir: no effect in danlu",
      "datasets[0].subsets[0].flip_agu: not a kohya option",
      "datasets[0].subsets[0].batch_size: no effect in danlu",
    ])
  })

  it("refuses wrong values in one line naming where they are", () => {
    const error = parseError({ datasets: [{ subsets: [{ image_dir: "a", num_repeats: "10" }] }] })
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toBe(
      'dataset.toml: datasets[0].subsets[0].num_repeats = "10": expected an integer ≥ 1',
    )
    expect(
      parseError({ datasets: [{ resolution: "512x", subsets: [{ image_dir: "a" }] }] }).message,
    ).toContain('datasets[0].resolution = "512x"')
    expect(parseError({ general: { shuffle_caption: 1 }, datasets: [] }).message).toContain(
      "general.shuffle_caption = 1: expected true or false",
    )
  })

  it("refuses a file without datasets, subsets or image_dir", () => {
    expect(parseError({ general: {} }).message).toContain("at least one [[datasets]]")
    expect(parseError({ datasets: [{ resolution: 512 }] }).message).toContain("datasets[0].subsets")
    expect(parseError({ datasets: [{ subsets: [{ num_repeats: 2 }] }] }).message).toContain(
      "datasets[0].subsets[0].image_dir",
    )
    expect(parseError({ datasets: { subsets: [] } }).message).toContain(
      "expected an array of tables ([[datasets]])",
    )
  })
})

describe("checkDatasetConfig", () => {
  const trainOptions = resolveTrainConfig({
    pretrainedModelNameOrPath: "base.safetensors",
    datasetConfig: "dataset.toml",
    outputDir: "out",
    maxTrainEpochs: 10,
    learningRate: 1e-4,
    cacheLatents: true,
  })

  it("finds each dataset's size problems and what a subset's own options break, with their place", () => {
    const dataset = Effect.runSync(
      parseDatasetConfig(
        {
          datasets: [
            { resolution: 512, subsets: [{ image_dir: "a" }, { image_dir: "b", caption_extension: "txt" }] },
            {
              resolution: [512, 704],
              enable_bucket: true,
              min_bucket_reso: 1024,
              max_bucket_reso: 896,
              subsets: [{ image_dir: "c", color_aug: true }],
            },
          ],
        },
        trainOptions,
      ),
    )
    const problems = checkDatasetConfig(dataset, trainOptions)
    expect(problems.map((problem) => `${problem.level} ${problem.key}`)).toEqual([
      "error datasets[0].subsets[1].caption_extension",
      "error datasets[1].min_bucket_reso",
      "error datasets[1].subsets[0].cache_latents",
    ])
    expect(problems[0]?.message).toMatch(
      /^datasets\[0\]\.subsets\[1\]: caption_extension = "txt" has no leading dot/,
    )
  })

  it("adds nothing for a dataset_config that only restates good options", () => {
    expect(checkDatasetConfig(parse(kohyaExample), trainOptions)).toEqual([])
  })
})
