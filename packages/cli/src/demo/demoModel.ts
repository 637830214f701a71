import {
  fromHostTensor,
  kohyaMetadata,
  LoraNetwork,
  Random,
  sd1TextConditioning,
  T,
  tensorsInMemory,
  tinyClipL,
  tinySd1UNet,
  tinyVae,
  unet,
  unetPrefix,
  vaeEncode,
  vaePrefix,
  WeightScope,
  writeKohyaLora,
  writeSafetensors,
} from "@danlu/core"
import { writeFileAtomic } from "@danlu/core/node"
import { Effect } from "effect"

/**
 * The demo's base model: SD1.5's architecture and LDM checkpoint layout (UNet, VAE, CLIP text encoder)
 * at toy width, with seeded weights, so the whole file is a few MB and loads anywhere. It is not a
 * model that draws anything; real base models are gigabytes and danlu never downloads them.
 */
const buildSd1 = (scope: WeightScope): void => {
  const tokens = T.input("tokens", [1, tinyClipL.maxPositions], "i32")
  const context = sd1TextConditioning(scope, tinyClipL, tokens)
  const image = T.input("image", [1, 3, 16, 16])
  const latent = vaeEncode(scope.at(vaePrefix), tinyVae, image).mean
  unet(scope.at(unetPrefix), tinySd1UNet, { x: latent, timesteps: T.input("t", [1]), context })
}

const seeded = (key: string, shape: ReadonlyArray<number>, index: number) => {
  const n = shape.reduce((a, b) => a * b, 1)
  const fanIn = Math.max(
    1,
    shape.slice(1).reduce((a, b) => a * b, 1),
  )
  const u = Random.uniformF32(n, 2025, index)
  const values = Float32Array.from(u, (v) =>
    shape.length === 1 ? (key.endsWith(".weight") ? 1 : 0) : (2 * v - 1) / Math.sqrt(fanIn),
  )
  return fromHostTensor({ dtype: "f32", shape, data: values })
}

/** Writes the toy SD1.5-layout checkpoint (f32 safetensors) and returns how many tensors it holds. */
export const writeDemoCheckpoint = (path: string) =>
  Effect.gen(function* () {
    const scope = WeightScope.root()
    buildSd1(scope)
    const entries = [...scope.manifest().values()]
    const tensors = Object.fromEntries(entries.map((e, i) => [e.key, seeded(e.key, e.shape, i)]))
    yield* writeFileAtomic(path, (sink) => writeSafetensors(sink, tensorsInMemory(tensors)), {
      existing: "refuse",
    })
    return entries.length
  })

/**
 * Writes a freshly initialised kohya-format LoRA for the toy model (rank 4, α 2; `lora_up` starts at
 * zero, as kohya's does, so it changes nothing until trained): what `danlu train` will write each epoch.
 */
export const writeDemoLora = (path: string) =>
  Effect.gen(function* () {
    const network = LoraNetwork.create({ rank: 4, alpha: 2 })
    buildSd1(WeightScope.root({ adapters: [network.adapter] }))
    const modules = network.moduleWeights(network.initialWeights(2025))
    const metadata = kohyaMetadata({
      family: "sd1",
      rank: 4,
      alpha: 2,
      title: "danlu demo",
      resolution: [512, 512],
    })
    yield* writeFileAtomic(path, (sink) => writeKohyaLora(sink, modules, metadata), { existing: "refuse" })
    return modules.length
  })
