import { access, readFile } from "node:fs/promises"
import { join, relative } from "node:path"
import { type Backend, Progress, progressCounter, type Sample, withProgress } from "@danlu/core"
import { Effect, type Layer, type Scope } from "effect"
import {
  type CellDiagnosis,
  type DiagnosisCell,
  diagnoseGrid,
  type GridDiagnosis,
  type TrainingImage,
  verdictColours,
  verdictLabel,
} from "../diagnose/diagnoseGrid.js"
import type { ImageEmbedder } from "../diagnose/nearestImage.js"
import type { DiagnosisThresholds } from "../diagnose/verdict.js"
import { DatasetError, describeCause } from "../errors.js"
import {
  type GenerateProgress,
  renderImages,
  resolveLoras,
  resolveSettings,
  writeImageFile,
} from "../generate/generateImages.js"
import { type GenerateError, openGenerator } from "../generate/generator.js"
import { loraShortHash, modelShortHash } from "../generate/imageFiles.js"
import { drawGrid, type GridMark } from "../grid/drawGrid.js"
import { type GridIndex, type GridIndexCell, writeGridIndex } from "../grid/gridIndex.js"
import { decodeImageRgb, openImage, type RawImage, white } from "../image/decode.js"
import { listImages } from "../image/listImages.js"
import { readPngText } from "../png/pngText.js"
import { type EpochFile, findEpochFiles, readValidationLoss } from "./epochFiles.js"
import {
  type CellSettings,
  cellKey,
  cellPrompt,
  cellVariant,
  defaultWeights,
  type ResolvedAxis,
  resolveAxis,
  type XyzAxisSpec,
} from "./xyzPlan.js"

export interface XyzOptions {
  /** The base checkpoint (the `models` axis replaces it per cell). */
  readonly model: string
  /** The training run's output folder. */
  readonly loraDir: string
  /** The run's output name: files `name-000002.safetensors` … and `name.safetensors`. */
  readonly name: string
  readonly prompt: string
  readonly negativePrompt?: string
  readonly sampler?: string
  readonly scheduler?: string
  readonly steps?: number
  readonly cfgScale?: number
  /** Default 1: a fixed seed, so an interrupted grid resumes; -1 picks one at random for the whole grid. */
  readonly seed?: number
  readonly rng?: Sample.RngName
  readonly width?: number
  readonly height?: number
  readonly clipSkip?: number
  /**
   * The weights axis' values (default 0, 0.3, 0.6, 0.8; 0 is added when missing); the largest is used when
   * no axis is weights.
   */
  readonly weights?: ReadonlyArray<number>
  /** Default: epochs. */
  readonly x?: XyzAxisSpec
  /** Default: weights. */
  readonly y?: XyzAxisSpec
  readonly z?: XyzAxisSpec
  /** Default `<loraDir>/xyz-<name>`. */
  readonly outDir?: string
  /** The training images, for the memorisation check. */
  readonly trainDataDir?: string
  /** Measures memorisation by embedding cosine distance instead of the structural distance. */
  readonly embedder?: ImageEmbedder
  /**
   * How many times larger the grid image draws each cell (nearest neighbour, a whole number); default
   * the factor that brings small cells near 128 px (32 px → 4), 1 for 86 px and up. Cell PNGs keep their size.
   */
  readonly gridScale?: number
  /** The diagnosis's thresholds where they differ from `defaultDiagnosisThresholds`. */
  readonly thresholds?: Partial<DiagnosisThresholds>
  /** Count the cells and time one sampler step; draw nothing. */
  readonly dryRun?: boolean
  readonly version?: string
}

export interface XyzResult {
  readonly outDir: string
  /** Grid cells over all Z values. */
  readonly cells: number
  /** Distinct pictures behind them (weight-0 cells of one variant share one). */
  readonly pictures: number
  /** Pictures drawn by this run, and those found from an earlier one. */
  readonly drawn: number
  readonly skipped: number
  /** Dry run: seconds one denoiser evaluation took and the estimate for the pictures still to draw. */
  readonly stepSeconds?: number
  readonly estimateSeconds?: number
  readonly grids: ReadonlyArray<string>
  readonly index?: string
  readonly page?: string
  readonly diagnosis?: GridDiagnosis
  /** What to print: the recommendation, the verdicts, remedies and notes. */
  readonly summary: ReadonlyArray<string>
}

interface PlannedCell {
  readonly settings: CellSettings
  readonly x: number
  readonly y: number
  readonly z: number
  readonly key: string
  readonly file: string
}

const samplerEvaluations = (sampler: string, steps: number) =>
  /^(Heun|DPM\+\+ SDE)/.test(sampler) ? 2 * steps - 1 : steps

/**
 * Training images as the memorisation check reads them: a 128 px thumbnail for the structural measure;
 * for an embedder, at most 512 px (more than its input), never enlarged.
 */
const trainingImages = (dir: string, forEmbedder: boolean) =>
  Effect.gen(function* () {
    const paths = yield* listImages(dir, { recursive: true })
    return yield* Effect.forEach(
      paths,
      (path) =>
        Effect.tryPromise({
          try: async (): Promise<TrainingImage> => {
            const { data, info } = await openImage(path)
              .flatten({ background: white })
              .resize(forEmbedder ? 512 : 128, forEmbedder ? 512 : 128, {
                fit: "inside",
                withoutEnlargement: forEmbedder,
              })
              .removeAlpha()
              .raw()
              .toBuffer({ resolveWithObject: true })
            return {
              id: relative(dir, path),
              image: { width: info.width, height: info.height, channels: 3, data },
            }
          },
          catch: (cause) =>
            new DatasetError({ message: `cannot decode ${path}: ${describeCause(cause)}`, path }),
        }),
      { concurrency: 4 },
    )
  })

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  )

const memo = <A>(compute: (key: string) => Promise<A>) => {
  const seen = new Map<string, Promise<A>>()
  return (key: string) =>
    Effect.tryPromise({
      try: () => {
        let found = seen.get(key)
        if (!found) {
          found = compute(key)
          seen.set(key, found)
        }
        return found
      },
      catch: (cause) =>
        new DatasetError({ message: `cannot read ${key}: ${describeCause(cause)}`, path: key }),
    })
}

const summaryLines = (diagnosis: GridDiagnosis, epochs: ReadonlyArray<EpochFile>): string[] => {
  const lines: string[] = []
  const file = (epoch: number) => epochs.find((e) => e.epoch === epoch)
  const r = diagnosis.recommendation
  if (r) {
    const name = file(r.epoch)?.stem ?? `epoch ${r.epoch}`
    lines.push(
      `${r.good ? "recommended" : "least bad"}: ${name} (epoch ${r.epoch}) at weight ${r.weight} — ${r.reason}`,
    )
  }
  const byEpoch = new Map<number, string[]>()
  for (const s of diagnosis.settings) {
    const effect = s.medianEffect === undefined ? "" : ` ${s.medianEffect.toFixed(2)}`
    byEpoch.set(s.epoch, [...(byEpoch.get(s.epoch) ?? []), `${s.weight}: ${s.verdict}${effect}`])
  }
  for (const [epoch, verdicts] of byEpoch) {
    const loss = diagnosis.settings.find((s) => s.epoch === epoch)?.validationLoss
    lines.push(
      `epoch ${epoch}${loss === undefined ? "" : ` (validation loss ${loss.toFixed(4)})`}: ${verdicts.join(", ")}`,
    )
  }
  for (const remedy of diagnosis.remedies) lines.push(`remedy: ${remedy.en} (${remedy.zh})`)
  for (const note of diagnosis.notes) lines.push(`note: ${note}`)
  return lines
}

const cellNote = (cell: CellDiagnosis): string => {
  const parts: string[] = []
  if (cell.broken) parts.push(`broken (${cell.broken})`)
  if (cell.effect !== undefined) parts.push(`effect ${cell.effect.toFixed(3)} vs weight 0`)
  if (cell.nearest)
    parts.push(`nearest training image ${cell.nearest.id} at ${cell.nearest.distance.toFixed(3)}`)
  if (cell.trainingGain !== undefined)
    parts.push(`${(cell.trainingGain * 100).toFixed(0)}% nearer the training images than weight 0`)
  return parts.join("; ")
}

/**
 * The guide's 验单 grid: X = the run's epoch files, Y = LoRA weights (0 is the base model alone), Z optional
 * (other base models, Prompt S/R, seeds, …; any axis type on any axis). Every cell is its own PNG with its
 * `parameters`, keyed by its settings so an interrupted grid resumes; then each Z value's labelled grid,
 * the diagnosis (broken, effect strength, memorisation, validation loss, verdicts, a recommended epoch and
 * weight, marked on the grids), `index.json` and `index.html`.
 */
export const runXyz = (options: XyzOptions): Effect.Effect<XyzResult, GenerateError, Backend | Scope.Scope> =>
  Effect.gen(function* () {
    const epochs = yield* findEpochFiles(options.loraDir, options.name)
    const weights = options.weights ?? defaultWeights
    const outDir = options.outDir ?? join(options.loraDir, `xyz-${options.name}`)
    const context = { epochs, weights, prompt: options.prompt }
    const specs = [
      options.x ?? { type: "epochs" as const },
      options.y ?? { type: "weights" as const },
      options.z,
    ]
    const types = specs.flatMap((spec) => (spec ? [spec.type] : []))
    const repeated = types.find((type, i) => types.indexOf(type) !== i)
    if (repeated) return yield* new DatasetError({ message: `the ${repeated} axis is used twice` })
    const [xAxis, yAxis, zAxis] = yield* Effect.try({
      try: () => specs.map((spec) => (spec ? resolveAxis(spec, context) : undefined)),
      // resolveAxis throws only DatasetError.
      catch: (cause) => cause as DatasetError,
    })
    const x = xAxis!
    const y = yAxis!
    const zLabels = zAxis?.labels ?? [undefined]

    const base: CellSettings = {
      model: options.model,
      prompt: options.prompt,
      sampler: options.sampler ?? "DPM++ 2M",
      steps: options.steps ?? 20,
      cfgScale: options.cfgScale ?? 7,
      // -1 draws one random seed for the whole grid (which then cannot resume).
      seed: options.seed === -1 ? Math.floor(Math.random() * 2 ** 32) : (options.seed ?? 1),
      epoch: epochs.at(-1)!,
      weight: Math.max(...weights),
    }
    const fixed = {
      negative: options.negativePrompt ?? "",
      scheduler: options.scheduler ?? "automatic",
      rng: options.rng ?? "philox",
      width: options.width ?? 512,
      height: options.height ?? 512,
      clipSkip: options.clipSkip ?? null,
    }
    const modelHash = memo(modelShortHash)
    const loraHash = memo(loraShortHash)
    const apply = (axis: ResolvedAxis | undefined, cell: CellSettings, i: number) =>
      axis ? axis.apply(cell, i) : cell
    const planned: PlannedCell[] = []
    for (let zi = 0; zi < zLabels.length; zi++) {
      for (let yi = 0; yi < y.labels.length; yi++) {
        for (let xi = 0; xi < x.labels.length; xi++) {
          const settings = apply(zAxis, y.apply(x.apply(base, xi), yi), zi)
          const hashes = {
            model: yield* modelHash(settings.model),
            lora: settings.weight === 0 ? "" : yield* loraHash(settings.epoch.path),
          }
          const key = cellKey(settings, fixed, hashes)
          planned.push({ settings, x: xi, y: yi, z: zi, key, file: join(outDir, "cells", `${key}.png`) })
        }
      }
    }
    const unique = [...new Map(planned.map((cell) => [cell.key, cell])).values()]
    const present = yield* Effect.promise(() => Promise.all(unique.map((cell) => exists(cell.file))))
    const missing = unique.filter((_, i) => !present[i])
    const counts = { outDir, cells: planned.length, pictures: unique.length, grids: [] as string[] }

    const drawSettings = (cell: CellSettings) => ({
      prompt: cellPrompt(cell),
      negativePrompt: fixed.negative,
      sampler: cell.sampler,
      scheduler: fixed.scheduler,
      steps: cell.steps,
      cfgScale: cell.cfgScale,
      seed: cell.seed,
      rng: fixed.rng,
      width: fixed.width,
      height: fixed.height,
      loraDir: options.loraDir,
      ...(options.clipSkip === undefined ? {} : { clipSkip: options.clipSkip }),
    })

    if (options.dryRun) {
      const first = missing.find((cell) => cell.settings.weight !== 0) ?? missing[0]
      if (first === undefined)
        return { ...counts, drawn: 0, skipped: unique.length, estimateSeconds: 0, summary: [] }
      const stepSeconds = yield* Effect.scoped(
        Effect.gen(function* () {
          const generator = yield* openGenerator(first.settings.model)
          const { prompt, ...rest } = drawSettings(first.settings)
          const settings = yield* resolveSettings({ ...rest, prompt })
          const loras = yield* resolveLoras(prompt, options.loraDir)
          return yield* generator.timeStep({ ...settings, prompt: loras.prompt, loras: loras.loras })
        }),
      )
      const estimateSeconds = missing.reduce(
        (total, cell) => total + samplerEvaluations(cell.settings.sampler, cell.settings.steps) * stepSeconds,
        0,
      )
      return {
        ...counts,
        drawn: 0,
        skipped: unique.length - missing.length,
        stepSeconds,
        estimateSeconds,
        summary: [],
      }
    }

    // Each cell drawn is one unit of the "xyz" task; cells an earlier run drew count as done.
    const cells = progressCounter(yield* Progress, {
      task: "xyz",
      unit: "cell",
      total: unique.length,
      done: unique.length - missing.length,
    })
    cells.start()
    const models = [...new Set(missing.map((cell) => cell.settings.model))]
    for (const model of models) {
      yield* Effect.scoped(
        Effect.gen(function* () {
          const generator = yield* openGenerator(model)
          for (const cell of missing.filter((c) => c.settings.model === model)) {
            const [picture] = yield* renderImages(generator, {
              ...drawSettings(cell.settings),
              ...(options.version === undefined ? {} : { version: options.version }),
            })
            yield* writeImageFile(cell.file, picture!.png)
            cells.advance(relative(outDir, cell.file), { file: cell.file })
          }
        }),
      )
    }

    const decoded = new Map<string, { image: RawImage; parameters: string }>()
    for (const cell of unique) {
      const read = yield* Effect.tryPromise({
        try: async () => {
          const bytes = new Uint8Array(await readFile(cell.file))
          const parameters = readPngText(bytes).find((entry) => entry.keyword === "parameters")?.text ?? ""
          return { image: await decodeImageRgb(bytes), parameters }
        },
        catch: (cause) =>
          new DatasetError({ message: `cannot read ${cell.file}: ${describeCause(cause)}`, path: cell.file }),
      })
      decoded.set(cell.key, read)
    }

    const training =
      options.trainDataDir === undefined
        ? []
        : yield* trainingImages(options.trainDataDir, options.embedder !== undefined)
    const validationLoss = yield* readValidationLoss(epochs.at(-1)!.path)
    const diagnosisCells: DiagnosisCell[] = planned.map((cell) => ({
      epoch: cell.settings.epoch.epoch,
      weight: cell.settings.weight,
      variant: cellVariant(cell.settings),
      image: decoded.get(cell.key)!.image,
    }))
    // Only a user-supplied embedder can fail here (a model whose output is not an embedding).
    const diagnosis = yield* Effect.tryPromise({
      try: () =>
        diagnoseGrid(diagnosisCells, {
          training,
          validationLoss,
          ...(options.thresholds === undefined ? {} : { thresholds: options.thresholds }),
          ...(options.embedder === undefined ? {} : { embedder: options.embedder }),
        }),
      catch: (cause) =>
        new DatasetError({
          message: `the memorisation check with ${options.embedder?.name ?? "the structural measure"} failed: ${describeCause(cause)}`,
        }),
    })
    const recommended = diagnosis.recommendation
    const isRecommended = (cell: PlannedCell) =>
      recommended !== undefined &&
      cell.settings.epoch.epoch === recommended.epoch &&
      cell.settings.weight === recommended.weight

    const sheets = []
    for (let zi = 0; zi < zLabels.length; zi++) {
      const inSheet = planned
        .map((cell, i) => ({ cell, judged: diagnosis.cells[i]! }))
        .filter(({ cell }) => cell.z === zi)
      const at = (xi: number, yi: number) => inSheet.find(({ cell }) => cell.x === xi && cell.y === yi)!
      const cells = y.labels.map((_, yi) => x.labels.map((_, xi) => decoded.get(at(xi, yi).cell.key)!.image))
      const marks = y.labels.map((_, yi) =>
        x.labels.map((_, xi): GridMark => {
          const { cell, judged } = at(xi, yi)
          const label = verdictLabel(judged)
          return { colour: verdictColours[judged.verdict], label: isRecommended(cell) ? `★ ${label}` : label }
        }),
      )
      const zLabel = zLabels[zi]
      const title = zLabel === undefined || zAxis === undefined ? options.prompt : `${zAxis.title}: ${zLabel}`
      const grid = yield* Effect.tryPromise({
        try: () =>
          drawGrid({
            cells,
            marks,
            xTitle: x.title,
            yTitle: y.title,
            xLabels: x.labels,
            yLabels: y.labels,
            title,
            ...(options.gridScale === undefined ? {} : { scale: options.gridScale }),
          }),
        catch: (cause) => new DatasetError({ message: `cannot draw the grid: ${describeCause(cause)}` }),
      })
      const gridFile = join(
        outDir,
        zAxis === undefined ? "grid.png" : `grid-${String(zi + 1).padStart(2, "0")}.png`,
      )
      yield* writeImageFile(gridFile, grid.png)
      counts.grids.push(gridFile)
      sheets.push({
        ...(zLabel === undefined ? {} : { z: zLabel }),
        image: relative(outDir, gridFile),
        cells: inSheet.map(({ cell, judged }): GridIndexCell => {
          const colour = verdictColours[judged.verdict]
          return {
            x: cell.x,
            y: cell.y,
            file: relative(outDir, cell.file),
            verdict: `${isRecommended(cell) ? "★ " : ""}${verdictLabel(judged)}`,
            colour: `rgb(${colour.r},${colour.g},${colour.b})`,
            note: cellNote(judged),
            parameters: decoded.get(cell.key)!.parameters,
            measures: {
              epoch: judged.epoch,
              weight: judged.weight,
              effect: judged.effect ?? null,
              trainingGain: judged.trainingGain ?? null,
              nearest: judged.nearest?.id ?? null,
              nearestDistance: judged.nearest?.distance ?? null,
              broken: judged.broken ?? null,
              key: cell.key,
            },
          }
        }),
      })
    }
    const summary = summaryLines(diagnosis, epochs)
    const { cells: _cells, ...verdicts } = diagnosis
    const index: GridIndex & { readonly diagnosis: typeof verdicts } = {
      title: `${options.name} — ${options.prompt}`,
      x: { title: x.title, values: x.labels },
      y: { title: y.title, values: y.labels },
      ...(zAxis === undefined ? {} : { z: { title: zAxis.title, values: zAxis.labels } }),
      sheets,
      summary,
      diagnosis: verdicts,
    }
    const written = yield* Effect.tryPromise({
      try: () => writeGridIndex(outDir, index),
      catch: (cause) =>
        new DatasetError({ message: `cannot write into ${outDir}: ${describeCause(cause)}`, path: outDir }),
    })
    return {
      ...counts,
      drawn: missing.length,
      skipped: unique.length - missing.length,
      index: written.json,
      page: written.html,
      diagnosis,
      summary,
    }
  })

/** A cell drawn, for the Promise form (the Effect form reports to the `Progress` service). */
export interface XyzCellEvent {
  readonly done: number
  readonly total: number
  readonly file: string
}

/** Promise form of {@link runXyz} on the given backend layer. */
export const runXyzPromise = (
  options: XyzOptions & {
    readonly onCell?: (event: XyzCellEvent) => void
    readonly onProgress?: (progress: GenerateProgress) => void
  },
  backend: Layer.Layer<Backend, unknown>,
): Promise<XyzResult> =>
  Effect.runPromise(
    runXyz(options).pipe(
      Effect.scoped,
      withProgress((event) => {
        if (event.type !== "progress" || event.done === 0) return
        if (event.task === "xyz")
          options.onCell?.({ done: event.done, total: event.total, file: String(event.fields?.file) })
        if (event.task === "generate") options.onProgress?.({ step: event.done, steps: event.total })
      }),
      Effect.provide(backend),
    ) as Effect.Effect<XyzResult, GenerateError>,
  )
