import {
  type IgnoredOption,
  type IgnoreReason,
  kohyaOptionName,
  type TrainConfig,
  trainOptionSpecs,
} from "@danlu/core"

type Unused = { readonly reason: IgnoreReason; readonly hint?: string }

const noEffect = (hint?: string): Unused =>
  hint === undefined ? { reason: "no effect in danlu" } : { reason: "no effect in danlu", hint }
const unsupported = (hint?: string): Unused =>
  hint === undefined ? { reason: "not supported by danlu" } : { reason: "not supported by danlu", hint }

/**
 * sd-scripts options (train_network.py's argparse) that danlu accepts and does not use: PyTorch,
 * data-loader and upload knobs that mean nothing here, and training features danlu does not have.
 * Kept as flags too, so a kohya command line runs unchanged and says what it skipped.
 */
export const unusedKohyaOptions: Readonly<Record<string, Unused>> = {
  xformers: noEffect("attention runs in danlu's own kernels"),
  sdpa: noEffect("attention runs in danlu's own kernels"),
  mem_eff_attn: noEffect("attention runs in danlu's own kernels"),
  persistent_data_loader_workers: noEffect("no PyTorch data loader"),
  max_data_loader_n_workers: noEffect("no PyTorch data loader"),
  lowram: noEffect(),
  highvram: noEffect(),
  lowvram: noEffect(),
  vae_batch_size: noEffect(),
  dynamo_backend: noEffect(),
  torch_compile: noEffect(),
  skip_cache_check: noEffect(),
  log_with: noEffect("danlu writes TensorBoard events and JSON lines to logging_dir"),
  log_tracker_name: noEffect(),
  log_tracker_config: noEffect(),
  log_config: noEffect(),
  wandb_api_key: noEffect("danlu does not upload to Weights & Biases"),
  wandb_run_name: noEffect("danlu does not upload to Weights & Biases"),
  huggingface_repo_id: noEffect("danlu does not upload to Hugging Face"),
  huggingface_repo_type: noEffect("danlu does not upload to Hugging Face"),
  huggingface_repo_visibility: noEffect("danlu does not upload to Hugging Face"),
  huggingface_path_in_repo: noEffect("danlu does not upload to Hugging Face"),
  huggingface_token: noEffect("danlu does not upload to Hugging Face"),
  save_state_to_huggingface: noEffect("danlu does not upload to Hugging Face"),
  resume_from_huggingface: noEffect("danlu does not upload to Hugging Face"),
  async_upload: noEffect("danlu does not upload to Hugging Face"),
  console_log_level: noEffect(),
  console_log_file: noEffect(),
  console_log_simple: noEffect(),
  ddp_timeout: noEffect(),
  ddp_gradient_as_bucket_view: noEffect(),
  ddp_static_graph: noEffect(),
  deepspeed: noEffect(),
  output_config: noEffect(),
  in_json: unsupported("fine-tuning metadata; use train_data_dir with caption files"),
  dataset_repeats: unsupported("a fine-tuning option; name folders <repeats>_<name>"),
  no_half_vae: unsupported(),
  fp8_base: unsupported(),
  fp8_base_unet: unsupported(),
  weighted_captions: unsupported(),
  scale_weight_norms: unsupported(),
  loraplus_lr_ratio: unsupported(),
  loraplus_unet_lr_ratio: unsupported(),
  loraplus_text_encoder_lr_ratio: unsupported(),
  dim_from_weights: unsupported("set network_dim to the file's rank"),
  network_multiplier: unsupported(),
  base_weights: unsupported(),
  base_weights_multiplier: unsupported(),
  lr_scheduler_type: unsupported(),
  lr_scheduler_args: unsupported(),
  lr_decay_steps: unsupported(),
  lr_scheduler_timescale: unsupported(),
  lr_scheduler_min_lr_ratio: unsupported(),
  v_pred_like_loss: unsupported(),
  ip_noise_gamma_random_strength: unsupported(),
  train_text_encoder: noEffect(
    "danlu finetune trains the text encoder unless stop_text_encoder_training = -1 (train_db.py's rule)",
  ),
  learning_rate_te1: unsupported("learning_rate_te sets both SDXL text encoders"),
  learning_rate_te2: unsupported("learning_rate_te sets both SDXL text encoders"),
  no_token_padding: unsupported(),
  face_crop_aug_range: unsupported(),
  token_warmup_min: unsupported(),
  token_warmup_step: unsupported(),
  save_n_epoch_ratio: unsupported("set save_every_n_epochs"),
  save_every_n_epochs_state: unsupported(),
  save_last_n_epochs_state: unsupported(),
  save_last_n_steps_state: unsupported(),
  initial_epoch: unsupported("use resume"),
  initial_step: unsupported("use resume"),
  skip_until_initial_step: unsupported("use resume"),
  validate_every_n_steps: unsupported("set validate_every_n_epochs"),
  max_validation_steps: unsupported(),
  cache_text_encoder_outputs_to_disk: unsupported(),
  cpu_offload_checkpointing: unsupported(),
  fused_backward_pass: unsupported(),
  mem_eff_save: unsupported(),
  custom_attributes: unsupported(),
}

/** A value that turns its option off, so leaving the option out changes nothing. */
const isOff = (value: unknown): boolean =>
  value === false || value === "" || value === 0 || (Array.isArray(value) && value.length === 0)

/** Levenshtein distance, for telling a typo from a GUI's own field. */
const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row.push(
        Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)),
      )
    }
    previous = row
  }
  return previous[b.length]!
}

const danluOptions = (Object.keys(trainOptionSpecs) as Array<keyof TrainConfig>).map(kohyaOptionName)

/** The danlu option a misspelt key most likely meant (at most two edits away), if any. */
const likelyMeant = (key: string): string | undefined => {
  let best: { name: string; distance: number } | undefined
  for (const name of danluOptions) {
    const distance = editDistance(key, name)
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name, distance }
  }
  return best?.name
}

/**
 * Why danlu does not use a key it has no option for. An unsupported option that is off has no
 * effect; an unknown key close to a danlu option is probably a typo and says which.
 */
export const unusedOption = (key: string, value: unknown): IgnoredOption => {
  const known = unusedKohyaOptions[key]
  if (known === undefined) {
    if (key.startsWith("network_args.")) {
      return {
        key,
        reason: "not supported by danlu",
        hint: "danlu reads conv_dim, conv_alpha, rank_dropout, module_dropout",
      }
    }
    const meant = likelyMeant(key)
    return meant === undefined
      ? { key, reason: "not a kohya option" }
      : { key, reason: "not a kohya option", hint: `did you mean ${meant}?` }
  }
  if (known.reason === "not supported by danlu" && isOff(value)) {
    return { key, reason: "no effect in danlu", hint: "off" }
  }
  return { key, ...known }
}
