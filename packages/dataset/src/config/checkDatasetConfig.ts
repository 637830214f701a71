import { type ConfigProblem, checkSizes, checkTrainConfig, type TrainConfig } from "@danlu/core"
import type { DatasetConfig, DatasetSubset } from "./datasetConfig.js"

/** A subset's options as the training options they override. */
const subsetOptions = (subset: DatasetSubset): Partial<TrainConfig> => {
  const {
    imageDir: _imageDir,
    numRepeats: _repeats,
    classTokens: _tokens,
    isReg: _isReg,
    ...options
  } = subset
  return options
}

/**
 * The pre-flight checks of a dataset_config: each dataset's sizes, and whatever a subset's own
 * options break that the training options alone do not (a caption_extension without its dot,
 * color_aug with cache_latents, …). Keys and messages say which dataset and subset.
 */
export const checkDatasetConfig = (
  dataset: DatasetConfig,
  options: TrainConfig,
): ReadonlyArray<ConfigProblem> => {
  const problems: Array<ConfigProblem> = []
  const already = new Set(checkTrainConfig(options).map((problem) => problem.message))
  for (const [index, blueprint] of dataset.datasets.entries()) {
    const place = `datasets[${index}]`
    problems.push(...checkSizes(blueprint, `${place}.`))
    for (const [subsetIndex, subset] of blueprint.subsets.entries()) {
      const subsetPlace = `${place}.subsets[${subsetIndex}]`
      for (const problem of checkTrainConfig({ ...options, ...subsetOptions(subset) })) {
        if (already.has(problem.message)) continue
        problems.push({
          ...problem,
          key: `${subsetPlace}.${problem.key}`,
          message: `${subsetPlace}: ${problem.message}`,
        })
      }
    }
  }
  return [
    ...problems.filter((problem) => problem.level === "error"),
    ...problems.filter((p) => p.level === "warning"),
  ]
}
