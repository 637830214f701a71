import { Effect, type Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { grad } from "../autodiff/grad.js"
import { Backend, type DeviceBuffer } from "../backend/Backend.js"
import type { Graph } from "../graph/graph.js"
import {
  gatherPositions,
  sd1TextConditioning,
  sd2TextConditioning,
  textEncoderPrefixes,
  textTransformer,
  tinyClipL,
  tinyOpenClip,
  tinySd1UNet,
  tinySd2UNet,
  tinySdxlUNet,
  tinyVae,
  type UNetConfig,
  unet,
  unetPrefix,
  vaeDecode,
  vaeEncode,
  vaeLatent,
  vaePrefix,
} from "../models/index.js"
import { WeightScope } from "../nn/weightScope.js"
import * as T from "../ops/index.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import type { Tensor } from "../tensor/tensor.js"
import { hostValues } from "./compare.js"
import { type Golden, goldenFolder, loadGolden, relativeError } from "./golden.js"
import { backendRequired } from "./runConformance.js"
import { synthetic } from "./syntheticWeights.js"

/** A tiny model as built for its golden file: outputs named as the golden names them. */
export interface GoldenBuild {
  readonly scope: WeightScope
  readonly outputs: Readonly<Record<string, Tensor>>
  /** Outputs in the loss, each weighted by the synthetic cotangent `golden.cotangent.<name>`. */
  readonly lossTerms: ReadonlyArray<string>
  /** Inputs the golden has gradients for (`grad.<name>`); weights with gradients are found by key. */
  readonly differentiable: Readonly<Record<string, Tensor>>
}

export interface GoldenModel {
  /** The golden file (`<name>.safetensors`) and the model's name in titles and `skip`. */
  readonly name: string
  readonly description: string
  /** The largest golden gradient must exceed this, or its comparison would prove nothing. */
  readonly gradientFloor: number
  readonly build: () => GoldenBuild
}

const unetModel = (name: string, config: UNetConfig): GoldenModel => ({
  name,
  description: `UNet (${name.slice("unet-".length).toUpperCase()} layout) as the PyTorch LDM UNet`,
  gradientFloor: 1e-4,
  build: () => {
    const scope = WeightScope.root()
    const x = T.input("x", [2, 4, 8, 8])
    const context = T.input("context", [2, 8, 32])
    const timesteps = T.input("timesteps", [2])
    const y = config.admInChannels === undefined ? undefined : T.input("y", [2, config.admInChannels])
    const output = unet(scope.at(unetPrefix), config, { x, timesteps, context, ...(y ? { y } : {}) })
    return {
      scope,
      outputs: { output },
      lossTerms: ["output"],
      differentiable: y ? { x, context, y } : { x, context },
    }
  },
})

const vaeModel: GoldenModel = {
  name: "vae",
  description: "VAE encode (mean, logvar, sampled latent) and decode as the PyTorch LDM AutoencoderKL",
  gradientFloor: 1e-6,
  build: () => {
    const scope = WeightScope.root()
    const image = T.input("image", [1, 3, 16, 16])
    const noise = T.input("noise", [1, 4, 8, 8])
    const latentIn = T.input("latent", [1, 4, 8, 8])
    const config = { ...tinyVae, scaleFactor: 0.18215 }
    const posterior = vaeEncode(scope.at(vaePrefix), config, image)
    const latent = vaeLatent(config, posterior, noise)
    const decoded = vaeDecode(scope.at(vaePrefix), config, latentIn)
    return {
      scope,
      outputs: { mean: posterior.mean, logvar: posterior.logvar, latent, decoded },
      lossTerms: ["latent", "decoded"],
      differentiable: { image, latent: latentIn },
    }
  },
}

const clipHfModel: GoldenModel = {
  name: "clip-hf",
  description: "CLIP-L text encoder (SD1): last hidden state and A1111 clip skip 2 as transformers",
  gradientFloor: 1e-6,
  build: () => {
    const scope = WeightScope.root()
    const tokens = T.input("tokens", [2, 8], "i32")
    const last = sd1TextConditioning(scope, tinyClipL, tokens, 1)
    const skip2 = sd1TextConditioning(scope, tinyClipL, tokens, 2)
    return { scope, outputs: { last, skip2 }, lossTerms: ["last", "skip2"], differentiable: {} }
  },
}

const clipOpenClipModel: GoldenModel = {
  name: "clip-openclip",
  description: "OpenCLIP text encoder (SD2/SDXL bigG): penultimate ± ln_final and the pooled projection",
  gradientFloor: 1e-6,
  build: () => {
    const scope = WeightScope.root()
    const tokens = T.input("tokens", [2, 8], "i32")
    const eos = T.input("eos", [2], "i32")
    const penultimate = sd2TextConditioning(scope, tinyOpenClip, tokens)
    const out = textTransformer(scope.at(textEncoderPrefixes.sd2), tinyOpenClip, tokens)
    const raw = out.hidden[out.hidden.length - 2]!
    const pooled = out.project!(gatherPositions(out.finalLayerNorm(out.hidden[out.hidden.length - 1]!), eos))
    return {
      scope,
      outputs: { penultimate, raw, pooled },
      lossTerms: ["penultimate", "raw", "pooled"],
      differentiable: {},
    }
  },
}

/** Every tiny model with a golden file from tools/reference. */
export const goldenModels: ReadonlyArray<GoldenModel> = [
  unetModel("unet-sd1", tinySd1UNet),
  unetModel("unet-sd2", tinySd2UNet),
  unetModel("unet-sdxl", tinySdxlUNet),
  vaeModel,
  clipHfModel,
  clipOpenClipModel,
]

/** The `{key: shape}` manifest of a build, comparable with `Golden.keys`. */
export const manifestShapes = (scope: WeightScope): Record<string, Array<number>> =>
  Object.fromEntries([...scope.manifest().values()].map((e) => [e.key, [...e.shape]]))

/** One golden check as a graph: the outputs, `loss`, and `grad.<label>` for every gradient the golden holds. */
export interface GoldenCase {
  readonly graph: Graph
  /** The golden's inputs: i32 where it stores integers (token ids), f32 otherwise. */
  readonly inputs: Readonly<Record<string, HostTensor>>
  /** Synthetic f32 weights by checkpoint key, for every weight the build asked for. */
  readonly weights: Readonly<Record<string, HostTensor>>
  readonly gradientLabels: ReadonlyArray<string>
}

export const goldenCase = (model: GoldenModel, build: GoldenBuild, golden: Golden): GoldenCase => {
  const { scope, outputs } = build
  const weighted = (name: string): Tensor => {
    const x = outputs[name]!
    return T.sum(T.mul(x, T.constant(synthetic(`golden.cotangent.${name}`, x.shape), x.shape)))
  }
  const loss = build.lossTerms.map(weighted).reduce((a, b) => T.add(a, b))
  const gradientLabels = [...golden.tensors.keys()]
    .filter((k) => k.startsWith("grad."))
    .map((k) => k.slice("grad.".length))
  const wrt = gradientLabels.map((label) => {
    const tensor = build.differentiable[label] ?? scope.tensors().get(label)
    if (!tensor)
      throw new Error(`golden ${model.name} has a gradient for ${label}, which the model does not have`)
    return tensor
  })
  const grads = grad(loss, wrt)
  const graph: Graph = {
    outputs: {
      ...outputs,
      loss,
      ...Object.fromEntries(gradientLabels.map((label, i) => [`grad.${label}`, grads[i]!])),
    },
  }
  const inputs: Record<string, HostTensor> = {}
  for (const [k, v] of golden.tensors) {
    if (!k.startsWith("input.")) continue
    const name = k.slice("input.".length)
    inputs[name] =
      v.data instanceof Int32Array
        ? { dtype: "i32", shape: v.shape, data: v.data }
        : { dtype: "f32", shape: v.shape, data: Float32Array.from(v.data) }
  }
  const weights = Object.fromEntries(
    [...scope.manifest().values()].map((e) => [
      e.key,
      {
        dtype: "f32",
        shape: e.shape,
        data: Float32Array.from(synthetic(e.key, e.shape)),
      } satisfies HostTensor,
    ]),
  )
  return { graph, inputs, weights, gradientLabels }
}

/**
 * Compares computed values with the golden: every output and gradient by `relativeError` (the worst
 * element error over the largest golden magnitude) within `tolerance`, and the loss within `tolerance`
 * of the golden loss, relative to max(1, |loss|). Returns one line per mismatch.
 */
export const goldenProblems = (
  model: GoldenModel,
  golden: Golden,
  gradientLabels: ReadonlyArray<string>,
  values: Readonly<Record<string, ArrayLike<number>>>,
  tolerance: number,
): Array<string> => {
  const problems: Array<string> = []
  const check = (name: string): void => {
    const actual = values[name]
    if (!actual) {
      problems.push(`${name}: the golden has it, the run did not return it`)
      return
    }
    const error = relativeError(actual, golden.get(name).data)
    if (!(error < tolerance))
      problems.push(`${name}: relative error ${error.toExponential(2)} ≥ ${tolerance}`)
  }
  for (const name of golden.tensors.keys()) if (!/^(input|grad)\./.test(name)) check(name)
  const expectedLoss = Number(golden.metadata.loss)
  const lossError = Math.abs(values.loss![0]! - expectedLoss) / Math.max(1, Math.abs(expectedLoss))
  if (!(lossError < tolerance))
    problems.push(
      `loss: ${values.loss![0]} vs ${expectedLoss}, error ${lossError.toExponential(2)} ≥ ${tolerance}`,
    )
  for (const label of gradientLabels) {
    const largest = Math.max(...Array.from(golden.get(`grad.${label}`).data, Math.abs))
    if (!(largest > model.gradientFloor))
      problems.push(
        `grad.${label}: golden gradient is trivially small (${largest}); the check proves nothing`,
      )
    check(`grad.${label}`)
  }
  return problems
}

export interface ModelGoldenOptions<E> {
  /** The backend's name in test titles and in `DANLU_REQUIRE_BACKENDS`. */
  readonly name: string
  readonly layer: Layer.Layer<Backend, E>
  /** Largest relative error allowed (see `goldenProblems`); default 1e-4, for f32 on a device. */
  readonly tolerance?: number
  /** Models this backend does not run here, each with the reason. */
  readonly skip?: Readonly<Record<string, string>>
  /** Folder of the golden files; default `goldenFolder`. */
  readonly folder?: URL
}

/**
 * Registers the golden model checks for one backend with vitest: each tiny model (UNet SD1/SD2/SDXL,
 * VAE, both CLIP layouts) is built, compiled on the backend with its synthetic weights uploaded as
 * state buffers, run forward and backward, and compared with PyTorch's outputs and gradients.
 */
export const runModelGoldens = <E>(options: ModelGoldenOptions<E>): void => {
  const tolerance = options.tolerance ?? 1e-4
  describe(`model goldens: ${options.name}`, () => {
    let runtime: ManagedRuntime.ManagedRuntime<Backend, E> | undefined
    let unavailable: string | undefined

    beforeAll(async () => {
      runtime = ManagedRuntime.make(options.layer)
      const exit = await runtime.runPromiseExit(Effect.flatMap(Backend, (backend) => backend.describe))
      if (exit._tag === "Failure") unavailable = String(exit.cause)
    })
    afterAll(async () => {
      await runtime?.dispose()
    })

    for (const model of goldenModels) {
      const reason = options.skip?.[model.name]
      const title = `${model.name}: ${model.description}${reason ? ` (skipped: ${reason})` : ""}`
      it.skipIf(reason !== undefined)(title, async (context) => {
        if (unavailable) {
          if (backendRequired(options.name))
            throw new Error(`${options.name} must be available here: ${unavailable}`)
          context.skip(`${options.name} unavailable: ${unavailable}`)
        }
        const golden = await loadGolden(model.name, options.folder ?? goldenFolder)
        const build = model.build()
        expect(manifestShapes(build.scope), "the checkpoint keys and shapes of the original").toEqual(
          golden.keys,
        )
        const { graph, inputs, weights, gradientLabels } = goldenCase(model, build, golden)
        const values = await runtime!.runPromise(runGoldenCase(graph, inputs, weights))
        expect(goldenProblems(model, golden, gradientLabels, values, tolerance)).toEqual([])
      })
    }
  })
}

/** Compiles the graph, uploads the weights it reads as state buffers, runs it once; every output as f64 values. */
const runGoldenCase = (
  graph: Graph,
  inputs: Readonly<Record<string, HostTensor>>,
  weights: Readonly<Record<string, HostTensor>>,
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const backend = yield* Backend
      const program = yield* backend.compile(graph)
      const states: Record<string, DeviceBuffer> = {}
      for (const spec of program.states) states[spec.name] = yield* backend.upload(weights[spec.name]!)
      const outputs = yield* program.run(inputs, states)
      return Object.fromEntries(Object.entries(outputs).map(([name, host]) => [name, hostValues(host)]))
    }),
  )
