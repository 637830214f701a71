import {
  type SdArchitecture,
  T,
  type Tensor,
  vaeDecode,
  vaeEncode,
  vaeLatent,
  vaePrefix,
  WeightScope,
} from "@danlu/core"
import { fullTrainingGraph } from "./fullTraining.js"

/** LDM's KL weight (first stage without the GAN), on a loss averaged per pixel rather than summed. */
const klWeight = 1e-6

/**
 * The VAE trained as an autoencoder, as LDM's first stage without the discriminator: the image through the
 * encoder, a latent drawn from the posterior, the decoder, a Charbonnier (smooth L1) reconstruction loss and a
 * small KL term toward the standard normal. Every VAE weight is trained.
 */
export const vaeTrainingGraph = (architecture: SdArchitecture, batch: number, size: number) => {
  const scope = WeightScope.root()
  const image = T.input("image", [batch, 3, size, size])
  const posterior = vaeEncode(scope.at(vaePrefix), architecture.vae, image)
  const noise = T.random(T.input("noise_key", [4], "u32"), posterior.mean.shape, "normal")
  const reconstruction = vaeDecode(
    scope.at(vaePrefix),
    architecture.vae,
    vaeLatent(architecture.vae, posterior, noise),
  )
  const difference = T.sub(reconstruction, image)
  const reconstructionLoss = T.mean(T.sqrt(T.add(T.square(difference), 1e-6)))
  const kl = T.mul(
    T.sum(T.sub(T.add(T.square(posterior.mean), T.exp(posterior.logvar)), T.add(posterior.logvar, 1))),
    0.5 / batch,
  )
  const loss = T.add(reconstructionLoss, T.mul(kl, klWeight / (3 * size * size)))
  const params = [...scope.tensors().values()] as Array<Tensor<"state">>
  return { ...fullTrainingGraph(loss, params, { reconstruction_loss: reconstructionLoss }), params }
}

/** Posterior mean and a decode, for encoding the set and checking reconstructions. */
export const vaeCodecGraphs = (architecture: SdArchitecture, batch: number, size: number) => {
  const factor = 2 ** (architecture.vae.channelMult.length - 1)
  const encodeScope = WeightScope.root()
  const image = T.input("image", [batch, 3, size, size])
  const posterior = vaeEncode(encodeScope.at(vaePrefix), architecture.vae, image)
  const noise = T.random(T.input("noise_key", [4], "u32"), posterior.mean.shape, "normal")
  const decodeScope = WeightScope.root()
  const latent = T.input("latent", [batch, architecture.vae.embedDim, size / factor, size / factor])
  return {
    encode: { outputs: { latent: vaeLatent(architecture.vae, posterior, noise) }, updates: {} },
    decode: {
      outputs: { image: vaeDecode(decodeScope.at(vaePrefix), architecture.vae, latent) },
      updates: {},
    },
  }
}
