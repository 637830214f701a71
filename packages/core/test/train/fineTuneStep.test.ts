import { describe, expect, it } from "vitest"
import {
  analyzeGraph,
  architectureManifest,
  buildTrainingStep,
  conditionedUNet,
  conditioningInputs,
  fineTuneGroups,
  fineTuneInputNames,
  isUnetWeight,
  momentNames,
  adamWOptimizer as packedAdamW,
  type SdArchitecture,
  type StepOptimizer,
  T,
  type Tensor,
  type TrainableGroup,
  textConditioning,
  tinyArchitecture,
  tinyClipL,
  tinyVae,
  WeightScope,
} from "../../src/index.js"
import type { RefArray } from "../../src/reference/storage.js"
import { syntheticFeeds } from "../../src/testing/syntheticWeights.js"
import { adamWOptimizer, exactRunner, raw, stepUNet } from "./tinyStep.js"

const architecture: SdArchitecture = {
  family: "sd1",
  prediction: "epsilon",
  unet: { ...stepUNet, contextDim: tinyClipL.width },
  text: [{ ...tinyClipL, layers: 1 }],
  vae: tinyVae,
}
const BATCH = 2
const MAX_GRAD_NORM = 0.05

/** The fine-tuning step on the micro model, with the given optimizer and clipping. */
const fineTuneStep = (optimizer: StepOptimizer, maxGradNorm: number) => {
  const scope = WeightScope.root()
  const latents = T.input("latents", [BATCH, 4, 8, 8])
  const conditioning = textConditioning(
    scope,
    architecture,
    conditioningInputs(architecture, BATCH),
    undefined,
  )
  const model = conditionedUNet(scope, architecture, conditioning)
  let prediction: Tensor | undefined
  let groups: ReadonlyArray<TrainableGroup> = []
  const step = buildTrainingStep({
    latents,
    denoise: (x, t) => {
      prediction = model(x, t)
      return prediction
    },
    groups: () => {
      groups = fineTuneGroups(scope, prediction!)
      return groups
    },
    optimizer,
    options: { noiseSource: "inputs", maxGradNorm },
  })
  return { ...step, scope, groups }
}

/** An "optimizer" that hands back each raw gradient under its parameter's name. */
const gradients: StepOptimizer = {
  update: (groups) =>
    Object.fromEntries(
      groups.flatMap((g) => g.trainables.map(({ param, grad }) => [param.attrs.name, grad])),
    ),
}

const batch = {
  latents: raw("ft.latents", BATCH * 4 * 64),
  tokens: Float64Array.from({ length: BATCH * 8 }, (_, i) => (i * 7 + 3) % 64),
  loss_weights: Float64Array.of(1, 0.6),
  "draw.noise": raw("ft.noise", BATCH * 4 * 64),
  "draw.timesteps": Float64Array.of(0.2, 0.85),
}

/** torch.optim.AdamW (betas 0.9/0.999, eps 1e-8, weight decay 0.01) on one parameter, in f64. */
const adamW = (p: RefArray, g: RefArray, m: RefArray, v: RefArray, lr: number, step: number) => {
  const out = { p: new Float64Array(p.length), m: new Float64Array(p.length), v: new Float64Array(p.length) }
  for (let i = 0; i < p.length; i++) {
    out.m[i] = 0.9 * m[i]! + 0.1 * g[i]!
    out.v[i] = 0.999 * v[i]! + 0.001 * g[i]! ** 2
    const denominator = Math.sqrt(out.v[i]!) / Math.sqrt(1 - 0.999 ** step) + 1e-8
    out.p[i] = p[i]! * (1 - lr * 0.01) - (lr / (1 - 0.9 ** step)) * (out.m[i]! / denominator)
  }
  return out
}

const maxRelativeError = (actual: RefArray, expected: Float64Array) => {
  let scale = 0
  let error = 0
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!))
    error = Math.max(error, Math.abs(actual[i]! - expected[i]!))
  }
  return error / Math.max(scale, 1e-30)
}

describe("full fine-tuning step", () => {
  it("trains every UNet and text-encoder weight with clipped AdamW; te_active 0 freezes the text encoder, as an f64 AdamW computes", () => {
    const step = fineTuneStep(adamWOptimizer, MAX_GRAD_NORM)
    const probe = fineTuneStep(gradients, 0)
    const weights = syntheticFeeds(step.scope.manifest())
    const names = Object.keys(weights)
    expect(names.some(isUnetWeight)).toBe(true)
    expect(names.some((name) => name.startsWith("cond_stage_model.transformer."))).toBe(true)
    // Every weight the model read is trained: a parameter per weight, two moments per group (UNet, text encoder).
    expect(Object.keys(step.graph.updates ?? {}).length).toBe(names.length + 4)
    // Where each weight's moments are in its group's packed ones.
    const packed = new Map<string, { readonly group: number; readonly from: number; readonly to: number }>()
    for (const [group, { trainables }] of step.groups.entries()) {
      let from = 0
      for (const t of trainables) {
        const to = from + t.shape.reduce((a, b) => a * b, 1)
        packed.set(t.attrs.name, { group, from, to })
        from = to
      }
    }
    expect([...packed.keys()].sort()).toEqual([...names].sort())

    const runStep = exactRunner(step.graph)
    const runProbe = exactRunner(probe.graph)
    let state: Record<string, RefArray> = { ...weights }
    for (const spec of analyzeGraph(step.graph).states)
      state[spec.name] ??= new Float64Array(spec.shape.reduce((a, b) => a * b, 1))
    const lrs = { unet: 1e-3, te: 5e-4 }
    for (const [index, active] of [1, 0].entries()) {
      // Each step is checked from the state the previous one left: an f64 AdamW on the probe's gradients.
      const grads = runProbe({
        ...state,
        ...batch,
        [fineTuneInputNames.textEncoderActive]: Float64Array.of(1),
      }).updates
      const gated = (name: string) => isUnetWeight(name) || active === 1
      let squares = 0
      for (const name of names.filter(gated)) for (const g of grads[name]!) squares += g * g
      const norm = Math.sqrt(squares)
      expect(norm).toBeGreaterThan(MAX_GRAD_NORM)
      const clip = Math.min(MAX_GRAD_NORM / (norm + 1e-6), 1)
      const out = runStep({
        ...state,
        ...batch,
        [fineTuneInputNames.unetLr]: Float64Array.of(lrs.unet),
        [fineTuneInputNames.textEncoderLr]: Float64Array.of(lrs.te),
        [fineTuneInputNames.textEncoderActive]: Float64Array.of(active),
        step: Float64Array.of(index + 1),
      })
      expect(out.outputs.grad_norm![0]).toBeCloseTo(norm, 10)
      for (const name of names) {
        const { group, from, to } = packed.get(name)!
        const p = name
        const [m, v] = [momentNames(group).m, momentNames(group).v]
        const [before, after] = [state, out.updates].map((values) => ({
          p: values[p]!,
          m: values[m]!.slice(from, to),
          v: values[v]!.slice(from, to),
        })) as [Record<"p" | "m" | "v", RefArray>, Record<"p" | "m" | "v", RefArray>]
        if (!gated(name)) {
          for (const key of ["p", "m", "v"] as const)
            expect(Array.from(after[key])).toEqual(Array.from(before[key]))
          continue
        }
        const g = Float64Array.from(grads[name]!, (x) => x * clip)
        const lr = isUnetWeight(name) ? lrs.unet : lrs.te
        const want = adamW(before.p, g, before.m, before.v, lr, index + 1)
        const delta = (values: RefArray) => Float64Array.from(values, (x, i) => x - state[p]![i]!)
        expect(
          maxRelativeError(delta(out.updates[p]!), delta(want.p)),
          `${name} at step ${index + 1}`,
        ).toBeLessThan(1e-9)
        expect(maxRelativeError(after.m, want.m)).toBeLessThan(1e-9)
        expect(maxRelativeError(after.v, want.v)).toBeLessThan(1e-9)
      }
      state = { ...state, ...out.updates }
    }
  }, 60_000)

  it("te_active 0 keeps every packed moment of the text encoder's group, however many packs it spans", () => {
    const step = fineTuneStep(packedAdamW({ packElements: 4096 }), MAX_GRAD_NORM)
    const moments = Object.keys(step.graph.updates ?? {}).filter((name) => name.startsWith("optimizer."))
    const text = moments.filter((name) => name.startsWith("optimizer.group1."))
    expect(text.length).toBeGreaterThan(4)
    const state: Record<string, RefArray> = syntheticFeeds(step.scope.manifest())
    for (const spec of analyzeGraph(step.graph).states)
      state[spec.name] ??= raw(
        spec.name,
        spec.shape.reduce((a, b) => a * b, 1),
      ).map((x) => x * x * 1e-3)
    const out = exactRunner(step.graph)({
      ...state,
      ...batch,
      [fineTuneInputNames.unetLr]: Float64Array.of(1e-3),
      [fineTuneInputNames.textEncoderLr]: Float64Array.of(5e-4),
      [fineTuneInputNames.textEncoderActive]: Float64Array.of(0),
      step: Float64Array.of(1),
    })
    for (const name of moments) {
      const same = Array.from(out.updates[name]!).every((x, i) => x === state[name]![i])
      expect([name, same]).toEqual([name, text.includes(name)])
    }
  }, 60_000)

  it("groups SD2's and SDXL's weights by part under their LDM checkpoint keys; text layers the prediction does not read are not trained", () => {
    const textPrefixes = {
      sd2: ["cond_stage_model.model."],
      sdxl: ["conditioner.embedders.0.transformer.", "conditioner.embedders.1.model."],
    }
    for (const family of ["sd2", "sdxl"] as const) {
      const arch = tinyArchitecture(family)
      const scope = WeightScope.root()
      const conditioning = textConditioning(scope, arch, conditioningInputs(arch, 1), undefined)
      const prediction = conditionedUNet(
        scope,
        arch,
        conditioning,
      )(T.input("x", [1, 4, 8, 8]), T.input("t", [1]))
      const [unet, text] = fineTuneGroups(scope, prediction).map((g) => g.trainables.map((t) => t.attrs.name))
      const manifest = architectureManifest(arch)
      for (const key of unet!) expect(key.startsWith("model.diffusion_model."), key).toBe(true)
      for (const key of text!)
        expect(
          textPrefixes[family].some((prefix) => key.startsWith(prefix)),
          key,
        ).toBe(true)
      for (const key of [...unet!, ...text!]) expect(manifest.has(key), key).toBe(true)
      for (const prefix of textPrefixes[family])
        expect(
          text!.some((key) => key.startsWith(prefix)),
          prefix,
        ).toBe(true)
      // Built but not read at the default clip skip 2: SD2's last text layer, CLIP-L's last layer in SDXL.
      const unread =
        family === "sd2"
          ? [`cond_stage_model.model.transformer.resblocks.${arch.text[0]!.layers - 1}.`]
          : [`conditioner.embedders.0.transformer.text_model.encoder.layers.${arch.text[0]!.layers - 1}.`]
      const token = (key: string) => key.endsWith("token_embedding.weight")
      const [, thawed] = fineTuneGroups(scope, prediction, { frozen: token }).map((g) =>
        g.trainables.map((t) => t.attrs.name),
      )
      expect(thawed).toEqual(text!.filter((key) => !token(key)))
      expect(thawed!.length).toBeLessThan(text!.length)
      for (const prefix of unread) {
        expect(
          [...scope.tensors().keys()].some((key) => key.startsWith(prefix)),
          prefix,
        ).toBe(true)
        expect(
          text!.some((key) => key.startsWith(prefix)),
          prefix,
        ).toBe(false)
      }
    }
  })
})
