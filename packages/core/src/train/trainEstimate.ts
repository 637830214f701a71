import { WeightScope } from "../nn/weightScope.js"
import { input } from "../ops/sources.js"
import { makeOptimizer } from "../optim/makeOptimizer.js"
import type { SdArchitecture } from "./architecture.js"
import type { TrainConfig } from "./config.js"
import { conditionedUNet, conditioningInputs, textConditioning } from "./sdModel.js"
import { trainedNetwork } from "./trainedNetwork.js"

/** What a run trains: its LoRA parameters, their bytes as held and the bytes of the optimizer's state for them. */
export interface NetworkSize {
  readonly parameters: number
  /** The weights as held: 4 bytes each, 2 under `full_fp16` / `full_bf16` (default: 4 a parameter). */
  readonly parameterBytes?: number
  readonly optimizerStateBytes: number
}

/**
 * The LoRA network `config` puts on a model of `architecture` (kohya's targets, rank, conv_dim, the
 * parts trained), found by recording the adapted model once on a small latent, and the optimizer state
 * it would carry. Nothing is computed.
 */
export const networkSize = (architecture: SdArchitecture, config: TrainConfig): NetworkSize => {
  const network = trainedNetwork(architecture, config)
  const scope = WeightScope.root({ adapters: [network.adapter] })
  // Any latent the UNet's levels can halve works: the network's shape does not depend on it.
  const side = 2 ** architecture.unet.channelMult.length
  const conditioning = textConditioning(
    scope,
    architecture,
    conditioningInputs(architecture, 1),
    config.clipSkip,
  )
  conditionedUNet(
    scope,
    architecture,
    conditioning,
  )(input("latents", [1, architecture.unet.inChannels, side, side]), input("t", [1]))
  const specs = [...network.tensors()].map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype }))
  const sizes = specs.map(
    (spec) => [spec.shape.reduce((a, b) => a * b, 1), spec.dtype === "f32" ? 4 : 2] as const,
  )
  const parameters = sizes.reduce((sum, [count]) => sum + count, 0)
  const parameterBytes = sizes.reduce((sum, [count, bytes]) => sum + count * bytes, 0)
  // The moments follow the weights' dtype (half under full_fp16 / full_bf16), as the run holds them.
  const state = makeOptimizer(config.optimizerType).initialState([specs])
  const optimizerStateBytes = Object.values(state).reduce((sum, t) => sum + t.data.byteLength, 0)
  return { parameters, parameterBytes, optimizerStateBytes }
}

/** A short training run measured on the chosen backend (see `danlu config check`). */
export interface MeasuredStep {
  /** The batch shape measured: the largest bucket at the run's batch size. */
  readonly shape: string
  readonly compileSeconds: number
  /** The first step, which also uploads the weights and warms the caches. */
  readonly warmupSeconds: number
  /** The mean of the steps after the first. */
  readonly stepSeconds: number
  /** The process's peak resident memory (or the device's, where the backend reports it). */
  readonly peakBytes: number
}

export interface TrainEstimateInput {
  /** Parameters of the base model. */
  readonly baseParameters: number
  /** How the base weights are held: f32, or half with `mixed_precision` (default f32). */
  readonly baseWeightStorage?: "f32" | "f16" | "bf16" | undefined
  readonly network: NetworkSize
  readonly gradientAccumulationSteps: number
  /** Optimizer steps of the run, when known. */
  readonly totalSteps: number | undefined
  /** Batch shapes (buckets) of the run: each compiles its own step program. */
  readonly shapes: number
  /** The memory the run may use: this machine's, or a limit given to check another machine. */
  readonly memory: { readonly totalBytes: number; readonly freeBytes: number }
  readonly measured?: MeasuredStep | undefined
}

export interface TrainEstimate {
  /** The base weights as they are held. */
  readonly baseWeightBytes: number
  /**
   * LoRA weights as held, their f32 gradients, the optimizer state and (with gradient accumulation) f32
   * accumulators.
   */
  readonly networkBytes: number
  /** What the run holds before any activation: base weights plus network. */
  readonly staticBytes: number
  /** Micro-steps × measured step time + shapes × measured compile time. */
  readonly totalSeconds: number | undefined
  /** The measured peak where there is one, else the static bytes. */
  readonly peakBytes: number
  /** Whether the peak fits the memory; "tight" when it fits the total but not what is free now. */
  readonly fits: "yes" | "tight" | "no"
}

const f32 = 4

/** The memory and time a run will take, from the model's size and (when there is one) a measured step. */
export const estimateTraining = (input: TrainEstimateInput): TrainEstimate => {
  const baseWeightBytes =
    input.baseParameters *
    (input.baseWeightStorage === undefined || input.baseWeightStorage === "f32" ? f32 : 2)
  const accumulators = input.gradientAccumulationSteps > 1 ? input.network.parameters * f32 : 0
  const weightBytes = input.network.parameterBytes ?? input.network.parameters * f32
  const networkBytes =
    weightBytes + input.network.parameters * f32 + input.network.optimizerStateBytes + accumulators
  const staticBytes = baseWeightBytes + networkBytes
  const { measured } = input
  const peakBytes = measured ? Math.max(measured.peakBytes, staticBytes) : staticBytes
  const totalSeconds =
    measured && input.totalSteps !== undefined
      ? input.totalSteps * input.gradientAccumulationSteps * measured.stepSeconds +
        input.shapes * measured.compileSeconds
      : undefined
  const fits =
    peakBytes > input.memory.totalBytes ? "no" : peakBytes > input.memory.freeBytes ? "tight" : "yes"
  return { baseWeightBytes, networkBytes, staticBytes, totalSeconds, peakBytes, fits }
}
