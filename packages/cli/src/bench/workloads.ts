import {
  buildTrainingStep,
  conditionedUNet,
  conditioningInputs,
  type Graph,
  type HostTensor,
  hostTensor,
  LoraNetwork,
  makeOptimizer,
  paramSpec,
  Sample,
  type SdArchitecture,
  standardArchitecture,
  T,
  type Tensor,
  textConditioning,
  tinyArchitecture,
  unet,
  unetPrefix,
  vaeDecode,
  vaePrefix,
  type WeightEntry,
  WeightScope,
} from "@danlu/core"

/** The model sizes `danlu bench` measures: the tiny SD1 model (seconds) or the full SD1.5 at 512². */
export const benchSizes = ["tiny", "sd15"] as const
export type BenchSize = (typeof benchSizes)[number]

/** The standard workloads, in the order they run. */
export const workloadNames = ["UNet forward", "LoRA training step", "VAE decode", "sampling step"] as const
export type WorkloadName = (typeof workloadNames)[number]

/** One graph to compile and run, with everything it reads. */
export interface Workload {
  readonly name: WorkloadName
  readonly graph: Graph
  /** Base weights the graph reads as states (filled with small random values). */
  readonly weights: ReadonlyArray<WeightEntry>
  /** Other states with their starting values (LoRA factors, optimizer moments). */
  readonly states: Readonly<Record<string, HostTensor>>
  readonly inputs: Readonly<Record<string, HostTensor>>
}

interface SizeSpec {
  readonly architecture: SdArchitecture
  /** Latent side: 64 is a 512² picture on SD1.5; the tiny VAE halves, so 8 is 16² (what the CLI tests draw). */
  readonly latent: number
  readonly rank: number
}

const sizeSpec = (size: BenchSize): SizeSpec =>
  size === "sd15"
    ? { architecture: standardArchitecture("sd1"), latent: 64, rank: 32 }
    : { architecture: tinyArchitecture("sd1"), latent: 8, rank: 4 }

/** Deterministic values uniform in ±scale (an LCG): speed does not depend on them, only on their being finite. */
export const benchValues = (count: number, seed: number, scale: number): Float32Array => {
  const data = new Float32Array(count)
  let s = seed >>> 0
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    data[i] = (s / 2 ** 32 - 0.5) * 2 * scale
  }
  return data
}

/** Norm scales 1 and biases 0 keep activations in range; matrices small. */
export const benchWeight = (entry: WeightEntry, seed: number): HostTensor => {
  const count = entry.shape.reduce((a, b) => a * b, 1)
  const data =
    entry.shape.length === 1
      ? new Float32Array(count).fill(entry.key.endsWith("weight") ? 1 : 0)
      : benchValues(count, seed, 0.01)
  return hostTensor("f32", entry.shape, data)
}

const f32 = (shape: ReadonlyArray<number>, seed: number, scale = 1): HostTensor =>
  hostTensor(
    "f32",
    shape,
    benchValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
  )
const scalar = (value: number): HostTensor => hostTensor("f32", [], Float32Array.of(value))

const scalarBatch = (value: number): HostTensor => hostTensor("f32", [1], Float32Array.of(value))

/** A caption's worth of token ids: start, a few words, end-of-text padding. */
const tokens = (batch: number): HostTensor => {
  const data = new Int32Array(batch * 77).fill(49407)
  for (let b = 0; b < batch; b++) {
    data[b * 77] = 49406
    for (let i = 1; i < 12; i++) data[b * 77 + i] = 320 + i
  }
  return hostTensor("i32", [batch, 77], data)
}

const unetForward = ({ architecture, latent }: SizeSpec): Workload => {
  const scope = WeightScope.root()
  const config = architecture.unet
  const eps = unet(scope.at(unetPrefix), config, {
    x: T.input("x", [1, 4, latent, latent]),
    timesteps: T.input("t", [1]),
    context: T.input("context", [1, 77, config.contextDim]),
  })
  return {
    name: "UNet forward",
    graph: { outputs: { eps } },
    weights: [...scope.manifest().values()],
    states: {},
    inputs: {
      x: f32([1, 4, latent, latent], 1),
      t: scalarBatch(500),
      context: f32([1, 77, config.contextDim], 2),
    },
  }
}

/** kohya's defaults as `danlu train` builds them: UNet and text-encoder LoRA, MSE on epsilon, AdamW. */
const loraStep = ({ architecture, latent, rank }: SizeSpec): Workload => {
  const network = LoraNetwork.create({ rank, alpha: rank / 2 })
  const scope = WeightScope.root({ adapters: [network.adapter] })
  const conditioning = textConditioning(scope, architecture, conditioningInputs(architecture, 1), undefined)
  const optimizer = makeOptimizer("AdamW")
  const trainables = (unetPart: boolean) =>
    [...network.tensors().entries()]
      .filter(([name]) => name.startsWith("lora_unet_") === unetPart)
      .map(([, tensor]) => tensor as Tensor<"state">)
  const step = buildTrainingStep({
    latents: T.input("latents", [1, 4, latent, latent]),
    denoise: conditionedUNet(scope, architecture, conditioning),
    groups: () => [
      { trainables: trainables(true), lr: T.input("lr_unet", []) },
      { trainables: trainables(false), lr: T.input("lr_te", []) },
    ],
    optimizer,
  })
  const params = [true, false].map((unetPart) => trainables(unetPart).map(paramSpec))
  return {
    name: "LoRA training step",
    graph: step.graph,
    weights: [...scope.manifest().values()],
    states: { ...network.initialWeights(42), ...optimizer.initialState(params), ...step.initialState },
    inputs: {
      latents: f32([1, 4, latent, latent], 3),
      tokens: tokens(1),
      noise_key: hostTensor("u32", [4], Uint32Array.of(42, 0, 1, 0)),
      loss_weights: scalarBatch(1),
      step: scalar(1),
      lr_unet: scalar(1e-4),
      lr_te: scalar(1e-4),
    },
  }
}

const decode = ({ architecture, latent }: SizeSpec): Workload => {
  const scope = WeightScope.root()
  const image = vaeDecode(scope.at(vaePrefix), architecture.vae, T.input("z", [1, 4, latent, latent]))
  return {
    name: "VAE decode",
    graph: { outputs: { image } },
    weights: [...scope.manifest().values()],
    states: {},
    inputs: { z: f32([1, 4, latent, latent], 4) },
  }
}

/** One denoiser evaluation as the samplers make it: CFG, cond and uncond in one UNet batch of 2. */
const samplingStep = ({ architecture, latent }: SizeSpec): Workload => {
  const scope = WeightScope.root()
  const contextDim = architecture.unet.contextDim
  const denoiser = Sample.denoiserGraph((inputs) => unet(scope.at(unetPrefix), architecture.unet, inputs), {
    batch: 1,
    height: latent,
    width: latent,
    contextLength: 77,
    contextDim,
  })
  return {
    name: "sampling step",
    graph: denoiser.graph,
    weights: [...scope.manifest().values()],
    states: {},
    inputs: {
      x: f32([1, 4, latent, latent], 5, 8),
      sigma: scalarBatch(8),
      cond: f32([1, 77, contextDim], 6),
      uncond: f32([1, 77, contextDim], 7),
      cfg_scale: Sample.cfgScaleInput(7),
    },
  }
}

const builders: Record<WorkloadName, (spec: SizeSpec) => Workload> = {
  "UNet forward": unetForward,
  "LoRA training step": loraStep,
  "VAE decode": decode,
  "sampling step": samplingStep,
}

/** Builds one workload at a size (graphs only: weights are made when uploaded). */
export const buildWorkload = (name: WorkloadName, size: BenchSize): Workload => builders[name](sizeSpec(size))
