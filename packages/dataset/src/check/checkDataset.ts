import { access } from "node:fs/promises"
import { basename, extname } from "node:path"
import { Progress, progressCounter } from "@danlu/core"
import { Effect } from "effect"
import { type BucketAssignment, hasBucket } from "../buckets/assignBucket.js"
import { balanceRegularization, stepsPerEpoch } from "../buckets/epochPlan.js"
import { defaultSizing, makeAssigner, type Sizing } from "../buckets/sizing.js"
import { captionCandidates, readCaption } from "../captions/readCaption.js"
import { tagFrequency } from "../captions/tagFrequency.js"
import type { DatasetError } from "../errors.js"
import { type Concept, scanTrainingFolder } from "../folders/trainingFolder.js"
import { adviseOn } from "./advice.js"
import type {
  BucketBin,
  CheckReport,
  ConceptSummary,
  HistogramBin,
  ImageEntry,
  SkippedFile,
} from "./checkReport.js"
import { extensionMismatch, type ImageInspection, inspectImage } from "./inspectImage.js"
import { hammingDistance } from "./perceptualHash.js"

export interface CheckOptions {
  readonly regularizationRoot?: string
  readonly sizing?: Sizing
  /** The guide's default batch size is 2. */
  readonly batchSize?: number
  /** ".txt" (the guide, 秋叶) by default; kohya's own default is ".caption". */
  readonly captionExtension?: string
  /** Images inspected at once. */
  readonly concurrency?: number
  /** Perceptual-hash bits that may differ for two images to count as near-duplicates. */
  readonly nearDuplicateDistance?: number
  readonly topTags?: number
}

const knownCaptionExtensions = [".txt", ".caption"]

const groupBy = <A>(items: ReadonlyArray<A>, key: (a: A) => string): ReadonlyArray<ReadonlyArray<A>> => {
  const groups = new Map<string, Array<A>>()
  for (const item of items) {
    const k = key(item)
    const group = groups.get(k)
    if (group === undefined) groups.set(k, [item])
    else group.push(item)
  }
  return [...groups.values()]
}

/** Groups of images whose perceptual hashes are close, joined transitively; exact copies left out. */
const nearDuplicateGroups = (images: ReadonlyArray<ImageInspection>, maxDistance: number) => {
  const parent = images.map((_, i) => i)
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!
      i = parent[i]!
    }
    return i
  }
  for (let i = 0; i < images.length; i++) {
    for (let j = i + 1; j < images.length; j++) {
      const a = images[i]!
      const b = images[j]!
      if (a.contentHash === b.contentHash) continue
      if (hammingDistance(a.perceptualHash!, b.perceptualHash!) <= maxDistance) parent[find(j)] = find(i)
    }
  }
  return groupBy(
    images.map((image, i) => ({ image, root: find(i) })),
    (entry) => String(entry.root),
  )
    .filter((group) => new Set(group.map((entry) => entry.image.contentHash)).size > 1)
    .map((group) => group.map((entry) => entry.image.path))
}

const shortSideBins: ReadonlyArray<readonly [number, string]> = [
  [256, "< 256"],
  [512, "256–511"],
  [768, "512–767"],
  [1024, "768–1023"],
  [2048, "1024–2047"],
  [Number.POSITIVE_INFINITY, "≥ 2048"],
]

const resolutionHistogram = (entries: ReadonlyArray<ImageEntry>): ReadonlyArray<HistogramBin> =>
  shortSideBins.map(([limit, label], i) => {
    const lower = i === 0 ? 0 : shortSideBins[i - 1]![0]
    const count = entries.filter((e) => {
      const side = Math.min(e.width, e.height)
      return side >= lower && side < limit
    }).length
    return { label: `short side ${label}`, count }
  })

const bucketHistogram = (entries: ReadonlyArray<ImageEntry>): ReadonlyArray<BucketBin> =>
  groupBy(entries, (e) => `${e.bucket.width}x${e.bucket.height}`)
    .map((group) => {
      const bucket = group[0]!.bucket
      return { bucket, aspect: bucket.width / bucket.height, count: group.length }
    })
    .sort((a, b) => a.aspect - b.aspect)

/** Caption files that no image of their folder reads, kohya's face-crop fallback included. */
const orphanCaptions = (concepts: ReadonlyArray<Concept>, extension: string): ReadonlyArray<string> =>
  concepts.flatMap((concept) => {
    const read = new Set(
      [...concept.images, ...concept.unsupportedImages].flatMap((image) =>
        captionCandidates(image, extension),
      ),
    )
    return concept.otherFiles.filter((file) => extname(file) === extension && !read.has(file))
  })

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  )

/**
 * Everything the guide tells a user to look at before training, in one report. Reads files, never
 * writes. Fails only when the folder itself cannot be read; bad images are reported, not fatal.
 */
export const checkDataset = (
  root: string,
  options: CheckOptions = {},
): Effect.Effect<CheckReport, DatasetError> =>
  Effect.gen(function* () {
    const sizing = options.sizing ?? defaultSizing
    const batchSize = options.batchSize ?? 2
    const captionExtension = options.captionExtension ?? ".txt"
    const assigner = makeAssigner(sizing)
    const folder = yield* scanTrainingFolder(
      root,
      options.regularizationRoot === undefined ? {} : { regularizationRoot: options.regularizationRoot },
    )
    const imageConcept = new Map<string, Concept>()
    for (const concept of folder.concepts)
      for (const image of concept.images) imageConcept.set(image, concept)
    const paths = [...imageConcept.keys()]
    // Each image read is one unit of the "check" task.
    const progress = progressCounter(yield* Progress, { task: "check", unit: "image", total: paths.length })
    progress.start()
    const inspections = yield* Effect.forEach(
      paths,
      (path) =>
        Effect.promise(async () => {
          const [inspection, caption] = await Promise.all([
            inspectImage(path),
            readCaption(path, captionExtension),
          ])
          let otherCaption: string | undefined
          if (caption.kind === "missing") {
            for (const extension of knownCaptionExtensions.filter((e) => e !== captionExtension)) {
              if (otherCaption === undefined && (await exists(captionCandidates(path, extension)[0]!)))
                otherCaption = extension
            }
          }
          progress.advance(basename(path), { path })
          return { inspection, caption, otherCaption }
        }),
      { concurrency: options.concurrency ?? 4 },
    )

    const decoded = inspections.filter((r) => r.inspection.decodeError === undefined)
    const assignments = new Map<string, BucketAssignment>()
    const noBucket: Array<string> = []
    const entries: Array<ImageEntry> = decoded.flatMap(({ inspection }) => {
      const size = { width: inspection.width!, height: inspection.height! }
      const assignment = assigner.assign(size)
      if (!hasBucket(assignment)) {
        noBucket.push(inspection.path)
        return []
      }
      assignments.set(inspection.path, assignment)
      return {
        path: inspection.path,
        concept: imageConcept.get(inspection.path)!.folderName,
        format: inspection.format!,
        ...size,
        bucket: assignment.bucket,
        resized: assignment.resized,
        upscaled: assignment.upscaled,
      }
    })
    const decodedPaths = new Set(entries.map((e) => e.path))

    const captionOf = new Map(inspections.map((r) => [r.inspection.path, r.caption]))
    const concepts: Array<ConceptSummary> = folder.concepts.map((concept) => {
      const images = concept.images.filter((p) => decodedPaths.has(p))
      return {
        folderName: concept.folderName,
        name: concept.name,
        repeats: concept.repeats,
        isRegularization: concept.isRegularization,
        hyphenated: concept.separator === "-",
        images: images.length,
        imagesTimesRepeats: images.length * concept.repeats,
        stepsPerEpoch: Math.ceil((images.length * concept.repeats) / batchSize),
        captioned: images.filter((p) => captionOf.get(p)?.kind === "found").length,
      }
    })

    const trainSamples = entries
      .filter((e) => !imageConcept.get(e.path)!.isRegularization)
      .map((e) => ({ bucket: e.bucket, repeats: imageConcept.get(e.path)!.repeats }))
    const trainTotal = trainSamples.reduce((sum, s) => sum + s.repeats, 0)
    const regSamples = balanceRegularization(
      trainTotal,
      entries
        .filter((e) => imageConcept.get(e.path)!.isRegularization)
        .map((e) => ({ bucket: e.bucket, repeats: imageConcept.get(e.path)!.repeats })),
    )

    const formats: Record<string, number> = {}
    for (const e of entries) formats[e.format] = (formats[e.format] ?? 0) + 1

    const skipped: Array<SkippedFile> = [
      ...folder.ignoredFolders.map((f) => ({ path: f.path, reason: `folder ignored: ${f.reason}` })),
      ...folder.looseImages.map((path) => ({
        path,
        reason: "directly in the training folder; put it in a <repeats>_<name> folder",
      })),
      ...folder.concepts.flatMap((c) => [
        ...c.unsupportedImages.map((path) => ({ path, reason: "not PNG/JPG/WebP" })),
        ...c.nestedImages.map((path) => ({
          path,
          reason: "in a sub-folder of a concept folder, which kohya does not read",
        })),
      ]),
    ]

    const good = decoded.map((r) => r.inspection)
    const isRegularization = (path: string) => imageConcept.get(path)!.isRegularization
    const noUpscale = sizing.mode === "buckets" && sizing.noUpscale
    const targetArea =
      sizing.mode === "fixed"
        ? sizing.size.width * sizing.size.height
        : sizing.resolution.width * sizing.resolution.height
    const captions = decoded.filter((r) => !isRegularization(r.inspection.path))
    const otherCaptions = captions.filter((r) => r.otherCaption !== undefined)
    const report: Omit<CheckReport, "advice"> = {
      root: folder.root,
      regularizationRoot: folder.regularizationRoot,
      settings: { sizing, batchSize, captionExtension },
      concepts,
      totals: {
        images: entries.length,
        imagesTimesRepeats: trainTotal,
        regularizationSamples: regSamples.reduce((sum, s) => sum + s.repeats, 0),
        stepsPerEpoch: stepsPerEpoch([...trainSamples, ...regSamples], batchSize),
      },
      formats,
      skipped,
      problems: {
        decodeFailures: inspections
          .filter((r) => r.inspection.decodeError !== undefined)
          .map((r) => ({ path: r.inspection.path, reason: r.inspection.decodeError! })),
        animated: good.filter((i) => (i.frames ?? 1) > 1).map((i) => i.path),
        cmyk: good.filter((i) => i.colourSpace === "cmyk").map((i) => i.path),
        highBitDepth: good.filter((i) => (i.bitDepth ?? 8) > 8).map((i) => i.path),
        alpha: good.filter((i) => i.hasAlpha === true).map((i) => i.path),
        exifRotated: good.filter((i) => i.exifOrientation !== undefined).map((i) => i.path),
        belowResolution: entries
          .filter((e) => e.upscaled || (noUpscale && e.bucket.width * e.bucket.height < targetArea))
          .map((e) => e.path),
        noBucket,
        extensionMismatch: good.filter(extensionMismatch).map((i) => i.path),
        exactDuplicates: groupBy(good, (i) => i.contentHash)
          .filter((g) => g.length > 1)
          .map((g) => g.map((i) => i.path)),
        nearDuplicates: nearDuplicateGroups(good, options.nearDuplicateDistance ?? 8),
      },
      resolutionHistogram: resolutionHistogram(entries),
      buckets: bucketHistogram(entries),
      captions: {
        extension: captionExtension,
        captioned: captions.filter((r) => r.caption.kind === "found").length,
        missing: captions.filter((r) => r.caption.kind === "missing").map((r) => r.inspection.path),
        empty: captions.filter((r) => r.caption.kind === "empty").map((r) => r.inspection.path),
        unreadable: captions.flatMap((r) =>
          r.caption.kind === "unreadable" ? [{ path: r.caption.path, reason: r.caption.reason }] : [],
        ),
        orphans: orphanCaptions(folder.concepts, captionExtension),
        otherExtension:
          otherCaptions.length === 0
            ? undefined
            : { extension: otherCaptions[0]!.otherCaption!, count: otherCaptions.length },
        topTags: tagFrequency(
          captions.flatMap((r) => (r.caption.kind === "found" ? [r.caption.text] : [])),
        ).slice(0, options.topTags ?? 20),
      },
      images: entries,
    }
    return { ...report, advice: adviseOn(report, folder) }
  })
