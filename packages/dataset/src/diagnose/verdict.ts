import type { BrokenReason, BrokenThresholds } from "./imageStats.js"
import { defaultBrokenThresholds } from "./imageStats.js"
import type { Nearest } from "./nearestImage.js"
import { overFitRemedies, type Remedy, underFitRemedies } from "./remedies.js"

/**
 * base: weight 0, the reference; under: no visible effect, or (with training images) no closer to them
 * than the base picture; over: copies a training image.
 */
export type CellVerdict = "base" | "broken" | "under" | "good" | "over"
export type SettingVerdictKind = Exclude<CellVerdict, "base">

export interface DiagnosisThresholds extends BrokenThresholds {
  /** Below this structural distance from the weight-0 cell, the LoRA had no visible effect. */
  readonly noEffectDistance: number
  /**
   * With training images: below this {@link CellMeasures.trainingGain}, the LoRA moved the picture no
   * closer to what it was trained on — it changed, but the concept is not there.
   */
  readonly noTrainingGain: number
  /** At or below this structural distance from a training image, a cell is a copy of it. */
  readonly copyDistance: number
  /** An (epoch, weight) is over-fit when at least this share of its judged cells are copies. */
  readonly overFitShare: number
  /** Validation loss this much (relative) above its minimum, after it, marks over-fitting epochs. */
  readonly validationRise: number
}

export const defaultDiagnosisThresholds: DiagnosisThresholds = {
  ...defaultBrokenThresholds,
  noEffectDistance: 0.03,
  // The demo's real grids (docs/guide/validation.md): cells with no trace of the character gained at
  // most 0.08, a shapeless blob in its colours 0.09, cells where it shows 0.11 to 0.47. A narrow gap.
  noTrainingGain: 0.1,
  copyDistance: 0.15,
  overFitShare: 0.5,
  validationRise: 0.05,
}

/** What was measured on one cell. */
export interface CellMeasures {
  readonly epoch: number
  readonly weight: number
  /** Cells with the same variant share seed, prompt and base model; weight 0 is their reference. */
  readonly variant: string
  readonly broken?: BrokenReason
  /** Structural distance to the variant's weight-0 cell; absent for weight 0 or without a usable one. */
  readonly effect?: number
  /**
   * 1 − (distance to the nearest training image / the weight-0 cell's): how much closer to the training
   * images the LoRA brought the picture, by the structural distance. Absent without training images, with
   * an embedder, or without a usable weight-0 cell.
   */
  readonly trainingGain?: number
  /** The closest training image. */
  readonly nearest?: Nearest
  /** The nearest training image is within the copy distance. */
  readonly memorised: boolean
}

export const cellVerdict = (
  cell: CellMeasures,
  thresholds: DiagnosisThresholds = defaultDiagnosisThresholds,
): CellVerdict => {
  if (cell.broken !== undefined) return "broken"
  if (cell.weight === 0) return "base"
  if (cell.memorised) return "over"
  if (cell.effect !== undefined && cell.effect < thresholds.noEffectDistance) return "under"
  if (cell.trainingGain !== undefined && cell.trainingGain < thresholds.noTrainingGain) return "under"
  return "good"
}

export interface ValidationLossPoint {
  readonly epoch: number
  readonly loss: number
}

/** The verdict for one epoch file at one weight, over all its variants (seeds, prompts, Z values). */
export interface SettingVerdict {
  readonly epoch: number
  readonly weight: number
  readonly verdict: SettingVerdictKind
  readonly cells: number
  readonly broken: number
  readonly memorised: number
  /** Median effect strength over the cells that have one. */
  readonly medianEffect?: number
  /** Median training gain over the cells that have one. */
  readonly medianTrainingGain?: number
  readonly validationLoss?: number
}

export interface Recommendation {
  readonly epoch: number
  readonly weight: number
  /** False when no (epoch, weight) was judged good and this is only the least bad one. */
  readonly good: boolean
  readonly reason: string
}

export interface GridVerdict {
  readonly settings: ReadonlyArray<SettingVerdict>
  readonly recommendation?: Recommendation
  /** The guide's remedies when no setting is good, for the failure that dominates. */
  readonly remedies: ReadonlyArray<Remedy>
  readonly notes: ReadonlyArray<string>
}

const median = (values: ReadonlyArray<number>): number | undefined => {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[(sorted.length - 1) >> 1]!
}

const settingVerdict = (
  cells: ReadonlyArray<CellMeasures>,
  thresholds: DiagnosisThresholds,
): Pick<
  SettingVerdict,
  "verdict" | "cells" | "broken" | "memorised" | "medianEffect" | "medianTrainingGain"
> => {
  const broken = cells.filter((cell) => cell.broken !== undefined).length
  const judged = cells.filter((cell) => cell.broken === undefined)
  const memorised = judged.filter((cell) => cell.memorised).length
  const medianEffect = median(judged.flatMap((cell) => (cell.effect === undefined ? [] : [cell.effect])))
  const medianTrainingGain = median(
    judged.flatMap((cell) => (cell.trainingGain === undefined ? [] : [cell.trainingGain])),
  )
  // The guide's success mark is "no broken 鬼图 at all", so one broken sample condemns the setting.
  const verdict: SettingVerdictKind =
    broken > 0
      ? "broken"
      : judged.length > 0 && memorised / judged.length >= thresholds.overFitShare
        ? "over"
        : (medianEffect !== undefined && medianEffect < thresholds.noEffectDistance) ||
            (medianTrainingGain !== undefined && medianTrainingGain < thresholds.noTrainingGain)
          ? "under"
          : "good"
  return {
    verdict,
    cells: cells.length,
    broken,
    memorised,
    ...(medianEffect === undefined ? {} : { medianEffect }),
    ...(medianTrainingGain === undefined ? {} : { medianTrainingGain }),
  }
}

const validationNotes = (
  series: ReadonlyArray<ValidationLossPoint>,
  thresholds: DiagnosisThresholds,
): { notes: string[]; overFitFrom?: number } => {
  if (series.length < 2) return { notes: [] }
  const sorted = [...series].sort((a, b) => a.epoch - b.epoch)
  const best = sorted.reduce((a, b) => (b.loss < a.loss ? b : a))
  const last = sorted.at(-1)!
  if (best === last)
    return {
      notes: [`validation loss is still falling at the last epoch (${last.epoch}): more epochs may help`],
    }
  const risen = sorted.find(
    (p) => p.epoch > best.epoch && p.loss >= best.loss * (1 + thresholds.validationRise),
  )
  if (risen === undefined)
    return { notes: [`validation loss is lowest at epoch ${best.epoch} and flat after it`] }
  return {
    notes: [
      `validation loss is lowest at epoch ${best.epoch} and ${Math.round((risen.loss / best.loss - 1) * 100)}% higher by epoch ${risen.epoch}: later epochs are over-fitting`,
    ],
    overFitFrom: risen.epoch,
  }
}

/**
 * Judges every (epoch, weight) from its cells and picks the balance point the guide asks for: the epoch
 * good at the most weights (ties: lower validation loss when known, then the stronger effect, then the
 * earlier epoch) at the
 * middle of its good weights (the lower middle: a higher weight is not better). When nothing is good,
 * recommends the least bad setting and the guide's remedies for the failure that dominates.
 */
export const judgeGrid = (
  cells: ReadonlyArray<CellMeasures>,
  options: {
    readonly validationLoss?: ReadonlyArray<ValidationLossPoint>
    readonly thresholds?: DiagnosisThresholds
  } = {},
): GridVerdict => {
  const thresholds = options.thresholds ?? defaultDiagnosisThresholds
  const lossAt = new Map((options.validationLoss ?? []).map((p) => [p.epoch, p.loss]))
  const { notes, overFitFrom } = validationNotes(options.validationLoss ?? [], thresholds)

  const brokenBases = [
    ...new Set(cells.filter((c) => c.weight === 0 && c.broken !== undefined).map((c) => c.variant)),
  ]
  if (brokenBases.length > 0)
    notes.push(
      `the base model alone (weight 0) gives broken images for ${brokenBases.join(", ")}: check the sampler settings, not the LoRA`,
    )

  const groups = new Map<string, CellMeasures[]>()
  for (const cell of cells) {
    if (cell.weight === 0) continue
    const key = `${cell.epoch}\u0000${cell.weight}`
    groups.set(key, [...(groups.get(key) ?? []), cell])
  }
  const settings: SettingVerdict[] = [...groups.values()]
    .map((group) => {
      const { epoch, weight } = group[0]!
      const loss = lossAt.get(epoch)
      return {
        epoch,
        weight,
        ...settingVerdict(group, thresholds),
        ...(loss === undefined ? {} : { validationLoss: loss }),
      }
    })
    .sort((a, b) => a.epoch - b.epoch || a.weight - b.weight)

  const good = settings.filter((s) => s.verdict === "good")
  if (good.length > 0) {
    const epochs = [...new Set(good.map((s) => s.epoch))]
    const score = (epoch: number) => good.filter((s) => s.epoch === epoch).length
    const inPreferredRange = (epoch: number) => (overFitFrom === undefined || epoch < overFitFrom ? 1 : 0)
    // Nothing copies or breaks in these epochs, so the one where the LoRA shows most has learned most.
    const effect = (epoch: number) => {
      const values = good.filter((s) => s.epoch === epoch).map((s) => s.medianEffect ?? 0)
      return values.reduce((sum, v) => sum + v, 0) / values.length
    }
    const epoch = epochs.sort(
      (a, b) =>
        inPreferredRange(b) - inPreferredRange(a) ||
        score(b) - score(a) ||
        (lossAt.get(a) ?? 0) - (lossAt.get(b) ?? 0) ||
        effect(b) - effect(a) ||
        a - b,
    )[0]!
    const weights = good.filter((s) => s.epoch === epoch).map((s) => s.weight)
    const weight = median(weights)!
    return {
      settings,
      recommendation: {
        epoch,
        weight,
        good: true,
        reason: `epoch ${epoch} is good at weight${weights.length > 1 ? "s" : ""} ${weights.join(", ")}`,
      },
      remedies: [],
      notes,
    }
  }
  if (settings.length === 0) return { settings, remedies: [], notes }

  const under = settings.filter((s) => s.verdict === "under").length
  if (under * 2 >= settings.length) {
    const last = settings.reduce((a, b) =>
      b.epoch > a.epoch || (b.epoch === a.epoch && b.weight > a.weight) ? b : a,
    )
    return {
      settings,
      recommendation: {
        epoch: last.epoch,
        weight: last.weight,
        good: false,
        reason:
          "no setting shows the LoRA's effect clearly (under-fit); the last epoch at the highest weight comes closest",
      },
      remedies: underFitRemedies,
      notes,
    }
  }
  const candidates = settings.filter((s) => s.verdict !== "broken")
  const first = (candidates.length > 0 ? candidates : settings).reduce((a, b) =>
    b.epoch < a.epoch || (b.epoch === a.epoch && b.weight < a.weight) ? b : a,
  )
  return {
    settings,
    recommendation: {
      epoch: first.epoch,
      weight: first.weight,
      good: false,
      reason:
        "most settings copy training images or break (over-fit); the earliest epoch at the lowest weight suffers least",
    },
    remedies: overFitRemedies,
    notes,
  }
}
