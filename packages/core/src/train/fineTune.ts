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
 * The parameter groups of full fine-tuning (sd-scripts' `train_db.py`): every weight the built model read,
 * the UNet's at `lr_unet` and the text encoder(s)' at `lr_te` behind the `te_active` gate. Call it after the
 * model is built on `scope`; a text encoder that is not trained must not be built on it (cached outputs).
 */
export const fineTuneGroups = (scope: WeightScope): ReadonlyArray<TrainableGroup> => {
  const unet: Array<Tensor<"state">> = []
  const text: Array<Tensor<"state">> = []
  for (const [key, tensor] of scope.tensors())
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
