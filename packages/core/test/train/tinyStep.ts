import {
  analyzeGraph,
  buildTrainingStep,
  type Graph,
  LoraNetwork,
  type StepOptimizer,
  type StepOptions,
  T,
  type Tensor,
  type TrainingStepSpec,
  tinySd1UNet,
  unet,
  unetPrefix,
  WeightScope,
} from "../../src/index.js"
import { adamW } from "../../src/optim/adamW.js"
import { compileExact } from "../../src/reference/evaluate.js"
import type { RefArray } from "../../src/reference/storage.js"
import { hashedUniform, synthetic, syntheticFeeds } from "../../src/testing/syntheticWeights.js"

/** The UNet of the step tests (and of tools/reference/golden_train.py): tiny SD1 with one level of one res block. */
export const stepUNet = {
  ...tinySd1UNet,
  channelMult: [1],
  numResBlocks: 1,
  attentionResolutions: [1],
  transformerDepth: [1],
}
export const LATENT_SHAPE = [2, 4, 8, 8] as const
export const CONTEXT_SHAPE = [2, 8, 32] as const

/** The existing AdamW as the step's optimizer, every group at its own learning rate. */
export const adamWOptimizer: StepOptimizer = {
  update: (groups, step) =>
    Object.assign({}, ...groups.map((g, i) => adamW(g.trainables, { lr: g.lr, step }, {}, i))),
}

/** Plain gradient descent, so that a parameter's change is its learning rate times its gradient. */
export const sgdOptimizer: StepOptimizer = {
  update: (groups) =>
    Object.fromEntries(
      groups.flatMap((g) =>
        g.trainables.map(({ param, grad }) => [param.attrs.name, T.sub(param, T.mul(grad, g.lr))]),
      ),
    ),
}

/**
 * A LoRA step on the tiny UNet with a fixed text context input; with `held`, the LoRA weights are held in
 * half (full_fp16 / full_bf16) and the optimizer's states as `held.optimizerStates` says.
 */
export const tinyUNetStep = (
  options: StepOptions,
  optimizer: StepOptimizer = adamWOptimizer,
  held?: Pick<TrainingStepSpec, "optimizerStates"> & { readonly storage: "f16" | "bf16" },
) => {
  const network = LoraNetwork.create({
    rank: 1,
    alpha: 1,
    components: ["unet"],
    ...(held ? { storage: held.storage } : {}),
  })
  const scope = WeightScope.root({ adapters: [network.adapter] })
  const latents = T.input("latents", [...LATENT_SHAPE])
  const context = T.input("context", [...CONTEXT_SHAPE])
  const step = buildTrainingStep({
    latents,
    denoise: (x, timesteps) => unet(scope.at(unetPrefix), stepUNet, { x, timesteps, context }),
    groups: () => [
      { trainables: [...network.tensors().values()] as Array<Tensor<"state">>, lr: T.input("lr", []) },
    ],
    optimizer,
    options,
    ...(held?.optimizerStates ? { optimizerStates: held.optimizerStates } : {}),
  })
  return { ...step, network, scope }
}

/** Values in [-1, 1) from the hashed stream shared with tools/reference/common.py. */
export const raw = (key: string, count: number): Float64Array =>
  hashedUniform(`golden.${key}`, count).map(Math.fround)

/**
 * Every weight of the step: synthetic UNet weights, LoRA down/up from the same hash keyed by the LDM module
 * path (up scaled by 0.1, non-zero so every LoRA weight gets a gradient), zero optimizer moments and
 * accumulators.
 */
export const tinyStepState = (built: ReturnType<typeof tinyUNetStep>): Record<string, Float64Array> => {
  const values: Record<string, Float64Array> = syntheticFeeds(built.scope.manifest())
  for (const lora of built.network.modules()) {
    const down = `${lora.name}.lora_down.weight`
    const up = `${lora.name}.lora_up.weight`
    values[down] = synthetic(`lora.${lora.module.path}.down`, lora.downShape)
    values[up] = synthetic(`lora.${lora.module.path}.up`, lora.upShape).map((v) => 0.1 * v)
  }
  for (const spec of analyzeGraph(built.graph).states) {
    if (!values[spec.name]) values[spec.name] = new Float64Array(spec.shape.reduce((a, b) => a * b, 1))
  }
  return values
}

/** Runs a graph in exact f64 and returns its outputs and the new values of the states it updates. */
export const exactRunner = (graph: Graph) => {
  const outputNames = Object.keys(graph.outputs)
  const updateNames = Object.keys(graph.updates ?? {})
  const run = compileExact([
    ...outputNames.map((n) => graph.outputs[n]!),
    ...updateNames.map((n) => graph.updates![n]!),
  ])
  return (feeds: Readonly<Record<string, RefArray>>) => {
    const values = run(feeds)
    return {
      outputs: Object.fromEntries(outputNames.map((n, i) => [n, values[i]!])),
      updates: Object.fromEntries(updateNames.map((n, i) => [n, values[outputNames.length + i]!])),
    }
  }
}
