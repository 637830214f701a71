import { analyzeGraph } from "../graph/graph.js"
import { unetPrefix } from "../models/unet/unet.js"
import type { WeightScope } from "../nn/weightScope.js"
import { input } from "../ops/sources.js"
import type { Tensor } from "../tensor/tensor.js"
import type { TrainableGroup } from "./trainingStep.js"

/** The scalar inputs of a full fine-tuning step, so host code and graphs agree. */
export const fineTuneInputNames = {
  unetLr: "lr_unet",
  textEncoderLr: "lr_te",
  /** 1 while the text encoder trains, 0 after kohya's `stop_text_encoder_training` step. */
  textEncoderActive: "te_active",
} as const

/** Whether a checkpoint key belongs to the UNet (`model.diffusion_model.*`). */
export const isUnetWeight = (key: string): boolean => key.startsWith(`${unetPrefix}.`)

/**
 * The parameter groups of full fine-tuning (sd-scripts' `train_db.py`): every weight the model's
 * `prediction` reads, the UNet's at `lr_unet` and the text encoder(s)' at `lr_te` behind the `te_active`
 * gate. A weight the model built but the prediction does not read (the text encoder's last layer under clip
 * skip 2) is not trained: torch leaves its `.grad` None and AdamW skips it, so the checkpoint keeps it
 * as the base has it. A text encoder that is not trained must not be built on `scope`.
 */
export const fineTuneGroups = (
  scope: WeightScope,
  prediction: Tensor,
  options: {
    /** Weights kept as they are besides those (a token table that captions barely touch, say). */
    readonly frozen?: (key: string) => boolean
  } = {},
): ReadonlyArray<TrainableGroup> => {
  const read = new Set(analyzeGraph({ outputs: { prediction }, updates: {} }).states.map((s) => s.name))
  const unet: Array<Tensor<"state">> = []
  const text: Array<Tensor<"state">> = []
  for (const [key, tensor] of scope.tensors())
    if (read.has(key) && !options.frozen?.(key))
      (isUnetWeight(key) ? unet : text).push(tensor as Tensor<"state">)
  return [
    { trainables: unet, lr: input(fineTuneInputNames.unetLr, []) },
    ...(text.length === 0
      ? []
      : [
          {
            trainables: text,
            lr: input(fineTuneInputNames.textEncoderLr, []),
            active: input(fineTuneInputNames.textEncoderActive, []),
          },
        ]),
  ]
}
