import {
  grad,
  LoraNetwork,
  sd1TextConditioning,
  T,
  tinyClipL,
  tinySd1UNet,
  unet,
  unetPrefix,
  WeightScope,
} from "../../src/index.js"
import { syntheticFeeds } from "../../src/testing/syntheticWeights.js"

/**
 * A LoRA training step's gradients on the tiny SD1 UNet and text encoder, with or without checkpointing,
 * with the base weights held in `storage` (mixed precision) or f32.
 */
export const tinyLoraStep = (gradientCheckpointing: boolean, storage?: "f16" | "bf16") => {
  const network = LoraNetwork.create({ rank: 2, alpha: 1 })
  const scope = WeightScope.root({ adapters: [network.adapter], ...(storage ? { storage } : {}) })
  const tokens = T.input("tokens", [1, tinyClipL.maxPositions], "i32")
  const context = sd1TextConditioning(scope, tinyClipL, tokens, 1, { gradientCheckpointing })
  const x = T.input("x", [1, 4, 8, 8])
  const out = unet(
    scope.at(unetPrefix),
    tinySd1UNet,
    { x, timesteps: T.input("t", [1]), context },
    { gradientCheckpointing },
  )
  const loss = T.mean(T.square(T.sub(out, x)))
  const lora = [...network.tensors().values()]
  return { scope, network, loss, grads: grad(loss, lora) }
}

/** Deterministic values for every input of `tinyLoraStep`. */
export const tinyLoraStepFeeds = (
  scope: WeightScope,
  network: LoraNetwork,
): Record<string, Float64Array | Int32Array> => {
  const values: Record<string, Float64Array | Int32Array> = syntheticFeeds(scope.manifest())
  for (const [name, host] of Object.entries(network.initialWeights(7))) {
    // A trained-looking LoRA: non-zero up weights, so every gradient path carries signal.
    values[name] = Float64Array.from(host.data, (v, i) =>
      name.includes("lora_up") ? 0.05 * Math.sin(i + 1) : v,
    )
  }
  values.tokens = Int32Array.from({ length: tinyClipL.maxPositions }, (_, i) => (i * 7) % tinyClipL.vocabSize)
  values.x = Float64Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.cos(i))
  values.t = Float64Array.of(500)
  return values
}
