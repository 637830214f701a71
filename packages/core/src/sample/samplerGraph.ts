import type { Graph } from "../graph/graph.js"
import { input, state } from "../ops/sources.js"
import type { Tensor } from "../tensor/tensor.js"
import {
  type DenoiserGraphOptions,
  denoiserNames,
  guidedDenoiser,
  type UNetBuilder,
} from "./denoiserGraph.js"
import { COEFFICIENT_PIECES, exactCombination } from "./exactCombination.js"

/** The names of a sampler program's states and its inputs besides the denoiser's. */
export const samplerProgramNames = {
  /** The latents x, updated in place by every run. */
  latents: "latents",
  /** The previous evaluation's denoised output. */
  old: "old_denoised",
  /** The previous evaluation's input latents. */
  saved: "saved_latents",
  /** The noise the update adds, [B, C, H, W] (zeros where it adds none). */
  noise: "noise",
  /** The evaluation's coefficients, `samplerCoefficientRows` rows of `coefficientPieces`. */
  coefficients: "sampler_coefficients",
} as const

/** The rows of a sampler program's coefficient input. */
export const samplerCoefficientRows = [
  "inputScale",
  "x",
  "denoised",
  "old",
  "saved",
  "noise",
  "addNoise",
] as const

const row = (name: (typeof samplerCoefficientRows)[number]): number => samplerCoefficientRows.indexOf(name)

export interface SamplerGraph {
  /** The guided denoised output of the run's evaluation, [B, C, H, W]. */
  readonly denoised: Tensor
  /** No outputs; updates of the latents, the old denoised output and the saved latents. */
  readonly graph: Graph
}

/**
 * One model evaluation of any `SamplerPlan` and its update, as one graph over the latents kept on the
 * device as state: the model sees the latents times `inputScale` at `sigma` (`denoiserGraph`'s guided
 * denoiser, with the same inputs), then latents ← x·x + denoised·D + old·old + saved·saved + noise·n and
 * latents ← latents + addNoise·n, each rounded once as the host loops round (`exactCombination`), while
 * old ← D and saved ← x. The coefficients and sigma are inputs, so one program runs every sampler, step
 * and schedule, and the host reads the latents back only when the plan is done.
 */
export const samplerGraph = (buildUNet: UNetBuilder, options: DenoiserGraphOptions): SamplerGraph => {
  const shape = [options.batch, options.channels ?? 4, options.height, options.width]
  const x = state(samplerProgramNames.latents, shape)
  const old = state(samplerProgramNames.old, shape)
  const saved = state(samplerProgramNames.saved, shape)
  const noise = input(samplerProgramNames.noise, shape)
  const coefficients = input(samplerProgramNames.coefficients, [
    samplerCoefficientRows.length,
    COEFFICIENT_PIECES,
  ])
  const sigma = input(denoiserNames.sigma, [options.batch])

  const modelInput = exactCombination(coefficients, [{ row: row("inputScale"), value: x }])
  const { denoised } = guidedDenoiser(buildUNet, options, modelInput, sigma)
  const updated = exactCombination(coefficients, [
    { row: row("x"), value: x },
    { row: row("denoised"), value: denoised },
    { row: row("old"), value: old },
    { row: row("saved"), value: saved },
    { row: row("noise"), value: noise },
  ])
  const next = exactCombination(coefficients, [{ value: updated }, { row: row("addNoise"), value: noise }])
  return {
    denoised,
    graph: {
      outputs: {},
      updates: {
        [samplerProgramNames.latents]: next,
        [samplerProgramNames.old]: denoised,
        [samplerProgramNames.saved]: x,
      },
    },
  }
}
