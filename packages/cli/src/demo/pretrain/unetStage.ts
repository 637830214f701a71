import {
  buildTrainingStep,
  conditionedUNet,
  conditioningInputs,
  makeOptimizer,
  paramSpec,
  type SdArchitecture,
  type StepOptions,
  T,
  type Tensor,
  textConditioning,
  textEncoderPrefixes,
  WeightScope,
} from "@danlu/core"

/**
 * Full training of the UNet with kohya's ε-prediction step (the same graph LoRA training uses, with every UNet
 * weight as a trainable): noise and timesteps from the step's key, forward, loss, backward, gradient clipping
 * to norm 1, AdamW. The text encoder stays frozen, as SD kept CLIP frozen: trained together from seeded
 * weights, it learns first to give every caption the same context (the captions' contexts drifted from 28–38%
 * apart to 4–6% in 600 steps), and the UNet then has nothing to follow. `noise` takes kohya's pyramid noise.
 */
export const unetTrainingGraph = (
  architecture: SdArchitecture,
  batch: number,
  latentSize: number,
  noise: Pick<StepOptions, "multiresNoiseIterations" | "multiresNoiseDiscount"> = {},
) => {
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
      params = [...scope.tensors().entries()]
        .filter(([key]) => !key.startsWith(textEncoderPrefixes.sd1))
        .map(([, tensor]) => tensor as Tensor<"state">)
      return [{ trainables: params, lr: T.input("lr", []) }]
    },
    optimizer,
    options: { maxGradNorm: 1, ...noise },
  })
  return {
    graph: step.graph,
    params,
    optimizerState: optimizer.initialState([params.map(paramSpec)]),
  }
}
