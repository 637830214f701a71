import { Command } from "effect/cli"
import { finetuneFlags } from "../train/flags.js"
import { switchFlag } from "./switchFlag.js"
import { runTrainingCommand } from "./train.js"

export const finetuneCommand = Command.make(
  "finetune",
  { kohya: finetuneFlags, json: switchFlag("json", "one JSON object per event on stdout, for scripts") },
  ({ kohya, json }) => runTrainingCommand("finetune", kohya, json),
).pipe(
  Command.withDescription(
    "炼丹 (full): fine-tune the whole UNet and text encoder as kohya's train_db.py does, writing a single-file checkpoint (the same flags as train, with --learning_rate_te and --stop_text_encoder_training instead of --network_*)",
  ),
)
