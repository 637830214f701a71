import {
  buildTrainingStep,
  conditionedUNet,
  conditioningInputs,
  makeOptimizer,
  type SdArchitecture,
  T,
  type Tensor,
  textConditioning,
  WeightScope,
} from "@danlu/core"

/**
 * Full fine-tuning of the UNet and the text encoder with kohya's ε-prediction step (the same graph LoRA
 * training uses, with every weight as a trainable): noise and timesteps from the step's key, forward, loss,
 * backward, gradient clipping to norm 1, AdamW. Give it an architecture whose token table holds only the
 * captions' tokens (see `compactVocabulary`): the table's gradient is a one-hot product over its rows.
 */
export const unetTrainingGraph = (architecture: SdArchitecture, batch: number, latentSize: number) => {
  const scope = WeightScope.root()
  const latents = T.input("latents", [batch, architecture.unet.inChannels, latentSize, latentSize])
  const conditioning = textConditioning(
    scope,
    architecture,
    conditioningInputs(architecture, batch),
    undefined,
  )
  const denoise = conditionedUNet(scope, architecture, conditioning)
  const optimizer = makeOptimizer("AdamW", ["weight_decay=0"])
  let params: Array<Tensor<"state">> = []
  const step = buildTrainingStep({
    latents,
    denoise,
    groups: () => {
      params = [...scope.tensors().values()] as Array<Tensor<"state">>
      return [{ trainables: params, lr: T.input("lr", []) }]
    },
    optimizer,
    options: { maxGradNorm: 1 },
  })
  return {
    graph: step.graph,
    params,
    optimizerState: optimizer.initialState(
      params.map((p) => ({ name: p.attrs.name, shape: p.shape, dtype: p.dtype })),
    ),
  }
}
