import { createHash } from "node:crypto"
import { basename, extname } from "node:path"
import { DatasetError } from "../errors.js"
import type { EpochFile } from "./epochFiles.js"

/** What an axis varies; any type may sit on X, Y or Z. */
export const xyzAxisTypes = [
  "epochs",
  "weights",
  "seeds",
  "samplers",
  "cfg",
  "steps",
  "models",
  "prompts",
] as const
export type XyzAxisType = (typeof xyzAxisTypes)[number]

/** An axis as asked for: its type and values (epochs: file labels, default every file; prompts: Prompt S/R). */
export interface XyzAxisSpec {
  readonly type: XyzAxisType
  readonly values?: ReadonlyArray<string>
}

/** Everything one cell is drawn with. */
export interface CellSettings {
  readonly model: string
  readonly prompt: string
  readonly sampler: string
  readonly steps: number
  readonly cfgScale: number
  readonly seed: number
  readonly epoch: EpochFile
  /** The LoRA multiplier; 0 draws the base model alone (the reference every weight is compared with). */
  readonly weight: number
}

export interface ResolvedAxis {
  readonly type: XyzAxisType
  readonly title: string
  readonly labels: ReadonlyArray<string>
  readonly apply: (cell: CellSettings, index: number) => CellSettings
}

const titles: Readonly<Record<XyzAxisType, string>> = {
  epochs: "Epoch",
  weights: "Weight",
  seeds: "Seed",
  samplers: "Sampler",
  cfg: "CFG scale",
  steps: "Steps",
  models: "Model",
  prompts: "Prompt S/R",
}

/** The guide's weights (0.3 / 0.6 / 0.8 — higher is not better) and 0, the base model alone. */
export const defaultWeights: ReadonlyArray<number> = [0, 0.3, 0.6, 0.8]

const fail = (message: string) => new DatasetError({ message })

const numbers = (type: XyzAxisType, values: ReadonlyArray<string>, integer: boolean): number[] =>
  values.map((value) => {
    const n = Number(value)
    if (value.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n)))
      throw fail(
        `--${type === "cfg" ? "cfg" : type} value "${value}" is not ${integer ? "an integer" : "a number"}`,
      )
    return n
  })

/** Turns an axis spec into its labels and how each value changes a cell. */
export const resolveAxis = (
  spec: XyzAxisSpec,
  context: {
    readonly epochs: ReadonlyArray<EpochFile>
    readonly weights: ReadonlyArray<number>
    readonly prompt: string
  },
): ResolvedAxis => {
  const title = titles[spec.type]
  const values = spec.values ?? []
  const need = () => {
    if (values.length === 0) throw fail(`the ${spec.type} axis needs at least one value`)
  }
  switch (spec.type) {
    case "epochs": {
      const files =
        values.length === 0
          ? context.epochs
          : values.map((label) => {
              const found = context.epochs.find((e) => e.label === label || String(e.epoch) === label)
              if (!found)
                throw fail(`no epoch file "${label}"; found ${context.epochs.map((e) => e.label).join(", ")}`)
              return found
            })
      return {
        type: spec.type,
        title,
        labels: files.map((e) => e.label),
        apply: (cell, i) => ({ ...cell, epoch: files[i]! }),
      }
    }
    case "weights": {
      // Weight 0 is the reference every effect is measured against, so it is always drawn.
      const given = values.length === 0 ? context.weights : numbers(spec.type, values, false)
      const weights = [...new Set([0, ...given])]
      return {
        type: spec.type,
        title,
        labels: weights.map(String),
        apply: (cell, i) => ({ ...cell, weight: weights[i]! }),
      }
    }
    case "seeds": {
      need()
      const seeds = numbers(spec.type, values, true)
      return {
        type: spec.type,
        title,
        labels: seeds.map(String),
        apply: (cell, i) => ({ ...cell, seed: seeds[i]! }),
      }
    }
    case "cfg": {
      need()
      const scales = numbers(spec.type, values, false)
      return {
        type: spec.type,
        title,
        labels: scales.map(String),
        apply: (cell, i) => ({ ...cell, cfgScale: scales[i]! }),
      }
    }
    case "steps": {
      need()
      const steps = numbers(spec.type, values, true)
      return {
        type: spec.type,
        title,
        labels: steps.map(String),
        apply: (cell, i) => ({ ...cell, steps: steps[i]! }),
      }
    }
    case "samplers":
      need()
      return {
        type: spec.type,
        title,
        labels: values,
        apply: (cell, i) => ({ ...cell, sampler: values[i]! }),
      }
    case "models":
      need()
      return {
        type: spec.type,
        title,
        labels: values.map((path) => basename(path, extname(path))),
        apply: (cell, i) => ({ ...cell, model: values[i]! }),
      }
    case "prompts": {
      need()
      const search = values[0]!
      // A1111's Prompt S/R: the first value is searched for and every value replaces it in turn.
      if (!context.prompt.includes(search)) throw fail(`Prompt S/R did not find "${search}" in the prompt`)
      return {
        type: spec.type,
        title,
        labels: values,
        apply: (cell, i) => ({ ...cell, prompt: cell.prompt.replaceAll(search, values[i]!) }),
      }
    }
  }
}

/** The prompt a cell is drawn with: the LoRA as an A1111 tag, none at weight 0. */
export const cellPrompt = (cell: CellSettings): string =>
  cell.weight === 0 ? cell.prompt : `${cell.prompt} <lora:${cell.epoch.stem}:${cell.weight}>`

/** Cells that differ only in epoch and weight share a variant: weight 0 of a variant is their reference. */
export const cellVariant = (cell: CellSettings): string =>
  `"${cell.prompt}" on ${basename(cell.model)}, seed ${cell.seed}, ${cell.sampler}, ${cell.steps} steps, CFG ${cell.cfgScale}`

/**
 * A cell's content key: a hash of every setting that changes its picture (the files by their hashes, so a
 * retrained file is drawn again). Weight-0 cells leave the LoRA out and are drawn once per variant.
 */
export const cellKey = (
  cell: CellSettings,
  fixed: Readonly<Record<string, unknown>>,
  hashes: { readonly model: string; readonly lora: string },
): string =>
  createHash("sha256")
    .update(
      JSON.stringify({
        ...fixed,
        model: hashes.model,
        prompt: cell.prompt,
        sampler: cell.sampler,
        steps: cell.steps,
        cfg: cell.cfgScale,
        seed: cell.seed,
        lora: cell.weight === 0 ? null : { hash: hashes.lora, weight: cell.weight },
      }),
    )
    .digest("hex")
    .slice(0, 16)
