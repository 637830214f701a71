/** What a LoRA is for; each gets the guide's (调参) values for it. */
export type PresetName = "anime" | "style" | "character" | "realistic" | "product"

export const presetNames: ReadonlyArray<PresetName> = ["anime", "style", "character", "realistic", "product"]

/** How the learning rate follows the batch size from the guide's 2e-4 at batch 2. */
export type LrScaling = "linear" | "sqrt" | "none"

export interface PresetOptions {
  /** The word that calls the LoRA up in a prompt; also the output name. */
  readonly triggerWord: string
  readonly baseModel?: string
  readonly trainDataDir?: string
  readonly outputDir?: string
  readonly loggingDir?: string
  readonly batchSize?: number
  readonly lrScaling?: LrScaling
}

interface PresetValues {
  readonly title: string
  readonly rank: number
  readonly rankNote: string
  readonly resolution: string
  readonly clipSkip?: number
  readonly data: string
  /** White-background product shots: no mirroring, loss masked to the product. */
  readonly productShots?: boolean
}

const presets: Readonly<Record<PresetName, PresetValues>> = {
  anime: {
    title: "an anime / illustration style or subject",
    rank: 32,
    rankNote: "the guide: 32 for anime and illustration (二次元风格)",
    resolution: "512,768",
    clipSkip: 2,
    data: "20–50 clean images; tag them with WD1.4 and put the trigger word first",
  },
  style: {
    title: "a drawing or painting style",
    rank: 32,
    rankNote: "the guide: 32 for illustration styles; more only if the style is full of fine detail",
    resolution: "512,512",
    clipSkip: 2,
    data: "images that share the style's visible traits; 10–20% near variants help it generalise (风格多样性)",
  },
  character: {
    title: "one character",
    rank: 32,
    rankNote: "the guide: 32 for anime characters; use 64–128 for a realistic or 3D one",
    resolution: "512,768",
    clipSkip: 2,
    data: "full body, half body, close-ups, front, side, back, high and low angles, many poses and expressions",
  },
  realistic: {
    title: "a realistic or 3D subject",
    rank: 64,
    rankNote: "the guide: 64–128 for realistic and 3D (写实/3D); 128 holds more detail and doubles the file",
    resolution: "512,768",
    data: "sharp, varied photos; retouch colour and upscale blurry ones before training",
  },
  product: {
    title: "one product (a single SKU)",
    rank: 64,
    rankNote: "the guide: 64–128 for realistic subjects",
    resolution: "512,512",
    productShots: true,
    data: "20–40 shots on white: 45° side, top-down, low angle, close-ups of material and details",
  },
}

/** The guide's learning rate and the batch it was given for. */
const guideLr = 2e-4
const guideBatch = 2

/** The learning rate for a batch size under a scaling rule. */
export const scaledLearningRate = (batchSize: number, scaling: LrScaling): number => {
  const ratio = batchSize / guideBatch
  const lr =
    scaling === "linear" ? guideLr * ratio : scaling === "sqrt" ? guideLr * Math.sqrt(ratio) : guideLr
  return Number(lr.toPrecision(3))
}

const scalingNote: Readonly<Record<LrScaling, string>> = {
  linear: "linear: the guide's rule, the rate grows in proportion to the batch (批量增大，学习率同比例上调)",
  sqrt: "sqrt: the rate grows with √batch, what measured SD runs with Adam suggest for larger batches",
  none: "none: 2e-4 whatever the batch; safe, but a larger batch then learns more slowly per epoch",
}

const quote = (text: string): string => JSON.stringify(text)

/**
 * A commented kohya TOML for `danlu init --preset`: the guide's values for the kind of LoRA, with
 * kohya's key names, so it also runs with sd-scripts' `--config_file` and the 秋叶/kohya_ss GUIs.
 */
export const presetToml = (preset: PresetName, options: PresetOptions): string => {
  const values = presets[preset]
  const batch = options.batchSize ?? guideBatch
  const scaling = options.lrScaling ?? "linear"
  const lr = scaledLearningRate(batch, scaling)
  const alpha = values.rank / 2
  const lines = [
    `# danlu training config: ${values.title} (preset "${preset}")`,
    "# kohya sd-scripts' option names: `danlu train --config_file` reads it, and so do sd-scripts and",
    "# the 秋叶 / kohya_ss GUIs. Check it with `danlu config check`.",
    "",
    "# --- 底模 base model ---",
    "# The LoRA only works on the base model family it was trained on (SD 1.5 with SD 1.5).",
    `pretrained_model_name_or_path = ${quote(options.baseModel ?? "models/v1-5-pruned-emaonly.safetensors")}`,
    "",
    "# --- 选图 images ---",
    `# ${values.data}.`,
    "# train_data_dir is the PARENT of the <repeats>_<name> folders (training/10_name), not the folder itself.",
    `train_data_dir = ${quote(options.trainDataDir ?? "training")}`,
    "# Match your images' size (the guide: 512,512 or 512,768, width,height); buckets take the rest.",
    `resolution = ${quote(values.resolution)}`,
    "enable_bucket = true",
    "min_bucket_reso = 256",
    "max_bucket_reso = 1024",
    "# kohya looks for .caption unless told; danlu's tagger writes .txt.",
    'caption_extension = ".txt"',
    "",
    "# --- 打标 captions ---",
    `# Trigger word: ${options.triggerWord}. Put it first in every caption; keep_tokens = 1 keeps it there`,
    "# while the other tags are shuffled (Shuffle: 必须开启). Remove the tags of what the trigger should",
    "# learn (越想学的越不标).",
    "shuffle_caption = true",
    "keep_tokens = 1",
    ...(values.clipSkip === undefined
      ? []
      : [
          "# Anime (NAI-derived) base models are used with the second-to-last text encoder layer.",
          `clip_skip = ${values.clipSkip}`,
        ]),
    "",
    "# --- 调参 network ---",
    `# Rank: ${values.rankNote}.`,
    `network_dim = ${values.rank}`,
    "# Alpha = rank / 2 (the guide). The LoRA's output is scaled by alpha / rank, so a higher alpha",
    "# pushes harder each step (the guide's wording says the reverse; the formula is kohya's).",
    `network_alpha = ${String(alpha)}`,
    'network_module = "networks.lora"',
    "",
    "# --- 调参 learning rate and length ---",
    `# ${guideLr} at batch ${guideBatch}, scaled to batch ${batch} by the rule "${scaling}":`,
    `#   ${scalingNote[scaling]}.`,
    "#   The other rules: linear | sqrt | none (`danlu init --lr-scaling`).",
    "# Under-fit (no visible style): raise the rate or the epochs, add images.",
    "# Over-fit (copies the training images): lower the rate or the epochs, add variety.",
    `learning_rate = ${String(lr)}`,
    `unet_lr = ${String(lr)}`,
    "# The text encoder learns at a tenth of the UNet's rate; 0 trains only the UNet.",
    `text_encoder_lr = ${String(Number((lr / 10).toPrecision(3)))}`,
    'optimizer_type = "AdamW"',
    'lr_scheduler = "cosine"',
    `train_batch_size = ${batch}`,
    "# 10 epochs is the guide's starting point.",
    "max_train_epochs = 10",
    "seed = 1337",
    "",
    ...(values.productShots === true
      ? [
          "# --- product shots ---",
          "# No mirroring: logos and text on the product would come out reversed.",
          "flip_aug = false",
          "# Learn only the product, not the white backdrop: cut the shots out to PNGs with a",
          "# transparent background and the loss ignores the transparent part.",
          "masked_loss = true",
          "alpha_mask = true",
          "",
        ]
      : []),
    "# --- 炼丹 output ---",
    "# Every 2 epochs gives 5 files for the XYZ grid (…-000002 to the final one).",
    `output_dir = ${quote(options.outputDir ?? "output")}`,
    `output_name = ${quote(options.triggerWord)}`,
    "save_every_n_epochs = 2",
    'save_model_as = "safetensors"',
    `logging_dir = ${quote(options.loggingDir ?? "logs")}`,
    "",
  ]
  return lines.join("\n")
}
