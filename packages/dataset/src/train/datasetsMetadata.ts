import type { DatasetConfig } from "../config/datasetConfig.js"
import type { TrainingData } from "./trainingData.js"

/**
 * The metadata sd-scripts' `train_network.py` writes for a run from a dataset_config: `ss_datasets`
 * (per dataset its batch, counts, sizes, tag frequency and buckets, per subset its folder's base name
 * and options), with the tag frequencies and training folders of all datasets merged into
 * `ss_tag_frequency` and `ss_dataset_dirs` for metadata editors.
 */
export const datasetsMetadata = (
  config: DatasetConfig,
  data: TrainingData<unknown>,
): Record<string, string> => {
  const datasets = config.datasets.map((blueprint, index) => {
    const summary = data.datasets[index]!
    return {
      is_dreambooth: true,
      batch_size_per_device: blueprint.batchSize,
      num_train_images: summary.trainImageCount,
      num_reg_images: summary.regImageCount,
      resolution: [blueprint.resolution.width, blueprint.resolution.height],
      enable_bucket: blueprint.enableBucket,
      min_bucket_reso: blueprint.minBucketReso,
      max_bucket_reso: blueprint.maxBucketReso,
      tag_frequency: summary.tagFrequency,
      bucket_info: summary.bucketInfo,
      subsets: blueprint.subsets.map((subset, subsetIndex) => ({
        img_count: summary.subsetImageCounts[subsetIndex]!,
        num_repeats: subset.numRepeats,
        color_aug: subset.colorAug,
        flip_aug: subset.flipAug,
        random_crop: subset.randomCrop,
        shuffle_caption: subset.shuffleCaption,
        keep_tokens: subset.keepTokens,
        keep_tokens_separator: subset.keepTokensSeparator,
        secondary_separator: subset.secondarySeparator ?? null,
        enable_wildcard: false,
        caption_prefix: subset.captionPrefix ?? null,
        caption_suffix: subset.captionSuffix ?? null,
        alpha_mask: subset.alphaMask,
        image_dir:
          subset.imageDir
            .split(/[\\/]/)
            .filter((part) => part !== "")
            .pop() ?? subset.imageDir,
        class_tokens: subset.classTokens ?? null,
        is_reg: subset.isReg,
      })),
    }
  })
  return {
    ss_datasets: JSON.stringify(datasets),
    ss_tag_frequency: JSON.stringify(data.tagFrequency),
    ss_dataset_dirs: JSON.stringify(data.datasetDirs),
  }
}
