import type { RawImage, Rgb } from "../image/decode.js"
import { brokenReason, type ImageStats, imageStats } from "./imageStats.js"
import { cosineDistance, type ImageEmbedder, type Nearest, nearest } from "./nearestImage.js"
import { imageSignature, structuralDistance } from "./structuralDistance.js"
import {
  type CellMeasures,
  type CellVerdict,
  cellVerdict,
  type DiagnosisThresholds,
  defaultDiagnosisThresholds,
  type GridVerdict,
  judgeGrid,
  type ValidationLossPoint,
} from "./verdict.js"

/** One generated sample of the grid, decoded. */
export interface DiagnosisCell {
  readonly epoch: number
  /** The LoRA multiplier; 0 is the base model alone, the reference for effect strength. */
  readonly weight: number
  /** Cells with the same variant share seed, prompt and base model (Z value). */
  readonly variant: string
  readonly image: RawImage
  /** The sampler saw NaN or infinity in the latents or decoded pixels. */
  readonly nonFinite?: boolean
}

/** A training image, decoded (a ~128 px version is enough: only a 128 px thumbnail is compared). */
export interface TrainingImage {
  readonly id: string
  readonly image: RawImage
}

export interface DiagnoseOptions {
  readonly training?: ReadonlyArray<TrainingImage>
  /** Replaces the structural distance for memorisation; its `copyDistance` replaces the threshold. */
  readonly embedder?: ImageEmbedder
  readonly validationLoss?: ReadonlyArray<ValidationLossPoint>
  readonly thresholds?: Partial<DiagnosisThresholds>
}

export interface CellDiagnosis extends CellMeasures {
  readonly stats: ImageStats
  readonly verdict: CellVerdict
}

export interface GridDiagnosis extends GridVerdict {
  /** In the order the cells were given. */
  readonly cells: ReadonlyArray<CellDiagnosis>
  /** "structural" (multi-scale SSIM) or the embedder's name. */
  readonly memorisationMeasure: string
  /** What the verdicts were judged by, so a reader of the index can tell a changed threshold. */
  readonly thresholds: DiagnosisThresholds
}

const nearestTraining = async (
  cells: ReadonlyArray<DiagnosisCell>,
  training: ReadonlyArray<TrainingImage>,
  signatures: ReadonlyArray<ReturnType<typeof imageSignature>>,
  embedder: ImageEmbedder | undefined,
): Promise<ReadonlyArray<Nearest | undefined>> => {
  if (training.length === 0) return cells.map(() => undefined)
  if (embedder === undefined) {
    const candidates = training.map(({ id, image }) => ({ id, value: imageSignature(image) }))
    return signatures.map((signature) => nearest(signature, candidates, structuralDistance))
  }
  const vectors = await embedder.embed([...cells.map((c) => c.image), ...training.map((t) => t.image)])
  const candidates = training.map(({ id }, i) => ({ id, value: vectors[cells.length + i]! }))
  return cells.map((_, i) => nearest(vectors[i]!, candidates, cosineDistance))
}

/**
 * Measures every cell — broken or not, effect strength against the weight-0 cell of its variant
 * (the same epoch's when there is one), the nearest training image and how much nearer it is than the
 * weight-0 cell's (the training gain) — then judges the grid with
 * {@link judgeGrid}.
 */
export const diagnoseGrid = async (
  cells: ReadonlyArray<DiagnosisCell>,
  options: DiagnoseOptions = {},
): Promise<GridDiagnosis> => {
  const thresholds = { ...defaultDiagnosisThresholds, ...options.thresholds }
  const copyDistance = options.embedder?.copyDistance ?? thresholds.copyDistance
  const stats = cells.map((cell) => imageStats(cell.image))
  const broken = cells.map((cell, i) => brokenReason(stats[i]!, cell.nonFinite ?? false, thresholds))
  const signatures = cells.map((cell) => imageSignature(cell.image))
  const closest = await nearestTraining(cells, options.training ?? [], signatures, options.embedder)

  const reference = (cell: DiagnosisCell): number | undefined => {
    let found: number | undefined
    cells.forEach((other, i) => {
      if (other.variant !== cell.variant || other.weight !== 0 || broken[i] !== undefined) return
      if (found === undefined || (other.epoch === cell.epoch && cells[found]!.epoch !== cell.epoch)) found = i
    })
    return found
  }

  const measured: CellDiagnosis[] = cells.map((cell, i) => {
    const base = cell.weight === 0 || broken[i] !== undefined ? undefined : reference(cell)
    const near = closest[i]
    // Measured and calibrated with the structural distance only; an embedder's cosine distances differ.
    const baseNear = base === undefined || options.embedder !== undefined ? undefined : closest[base]
    const trainingGain =
      near === undefined || baseNear === undefined || baseNear.distance <= 0
        ? undefined
        : 1 - near.distance / baseNear.distance
    const measures: CellMeasures = {
      epoch: cell.epoch,
      weight: cell.weight,
      variant: cell.variant,
      ...(broken[i] === undefined ? {} : { broken: broken[i] }),
      ...(base === undefined ? {} : { effect: structuralDistance(signatures[i]!, signatures[base]!) }),
      ...(trainingGain === undefined ? {} : { trainingGain }),
      ...(near === undefined ? {} : { nearest: near }),
      memorised: near !== undefined && near.distance <= copyDistance,
    }
    return { ...measures, stats: stats[i]!, verdict: cellVerdict(measures, thresholds) }
  })
  const verdict = judgeGrid(measured, {
    thresholds,
    ...(options.validationLoss === undefined ? {} : { validationLoss: options.validationLoss }),
  })
  return {
    ...verdict,
    cells: measured,
    memorisationMeasure: options.embedder?.name ?? "structural",
    thresholds: { ...thresholds, copyDistance },
  }
}

/** Border colours for the verdicts drawn on a grid. */
export const verdictColours: Readonly<Record<CellVerdict, Rgb>> = {
  base: { r: 120, g: 120, b: 120 },
  broken: { r: 220, g: 38, b: 38 },
  under: { r: 37, g: 99, b: 235 },
  good: { r: 22, g: 163, b: 74 },
  over: { r: 234, g: 88, b: 12 },
}

/** The short label drawn on a cell, e.g. "good 0.12", "over", "broken: noise". */
export const verdictLabel = (cell: CellDiagnosis): string => {
  if (cell.verdict === "broken") return `broken: ${cell.broken}`
  if (cell.verdict === "base") return "base"
  if (cell.verdict === "over") return "over: copy"
  return cell.effect === undefined ? cell.verdict : `${cell.verdict} ${cell.effect.toFixed(2)}`
}
