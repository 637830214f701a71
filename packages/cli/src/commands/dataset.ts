import {
  type CheckReport,
  checkDataset,
  defaultSizing,
  formatCheckReport,
  formatSize,
  type OutputFormat,
  type PrepareResult,
  parseColour,
  parseSize,
  prepareDataset,
  type Sizing,
} from "@danlu/dataset"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { showProgress } from "../progress/showProgress.js"
import { UserError } from "../userError.js"
import { captionExtensionFlag, captionExtensionFrom } from "./captionExtension.js"
import { switchFlag } from "./switchFlag.js"

const sizingFlags = {
  resolution: Flag.String("resolution").pipe(
    Flag.withDescription(
      "training resolution for buckets: 512, or width,height such as 512,768 (kohya's --resolution)",
    ),
    Flag.withDefault("512"),
  ),
  size: Flag.String("size").pipe(
    Flag.withDescription(
      "one fixed size instead of buckets, e.g. 512x512 or 512x768 (the guide's advice for SD1.5)",
    ),
    Flag.optional,
  ),
  minBucket: Flag.Int("min-bucket").pipe(Flag.withDescription("smallest bucket side"), Flag.withDefault(256)),
  maxBucket: Flag.Int("max-bucket").pipe(Flag.withDescription("largest bucket side"), Flag.withDefault(1024)),
  bucketStep: Flag.Int("bucket-step").pipe(
    Flag.withDescription("bucket sides are multiples of this"),
    Flag.withDefault(64),
  ),
  bucketNoUpscale: switchFlag(
    "bucket-no-upscale",
    "kohya's bucket_no_upscale: buckets follow each image's size, never enlarging it",
  ),
  captionExtension: captionExtensionFlag,
}

type SizingFlags = {
  readonly resolution: string
  readonly size: Option.Option<string>
  readonly minBucket: number
  readonly maxBucket: number
  readonly bucketStep: number
  readonly bucketNoUpscale: boolean
}

const sizingFrom = (flags: SizingFlags): Effect.Effect<Sizing, UserError> =>
  Effect.gen(function* () {
    if (Option.isSome(flags.size)) {
      const size = parseSize(flags.size.value)
      if (size === undefined) {
        return yield* new UserError({
          message: `--size ${flags.size.value} is not a size; write e.g. 512x768 (multiples of 8)`,
        })
      }
      return { mode: "fixed", size }
    }
    const resolution = parseSize(flags.resolution)
    if (resolution === undefined) {
      return yield* new UserError({
        message: `--resolution ${flags.resolution} is not a resolution; write e.g. 512 or 512,768`,
      })
    }
    const { minBucket, maxBucket, bucketStep } = flags
    if (bucketStep < 8 || bucketStep % 8 !== 0) {
      return yield* new UserError({
        message: `--bucket-step must be a positive multiple of 8 (64 for SD1/SD2), got ${bucketStep}`,
      })
    }
    if (minBucket < bucketStep || maxBucket < minBucket) {
      return yield* new UserError({
        message: `bucket sides must satisfy --bucket-step ≤ --min-bucket ≤ --max-bucket, got ${bucketStep}, ${minBucket}, ${maxBucket}`,
      })
    }
    return {
      ...defaultSizing,
      resolution,
      minSide: minBucket,
      maxSide: maxBucket,
      step: bucketStep,
      noUpscale: flags.bucketNoUpscale,
    }
  })

const positive = (flag: string, value: number): Effect.Effect<number, UserError> =>
  value >= 1
    ? Effect.succeed(value)
    : Effect.fail(new UserError({ message: `--${flag} must be at least 1, got ${value}` }))

const check = Command.make(
  "check",
  {
    dir: Argument.String("dir").pipe(
      Argument.withDescription("the training folder (the parent of the 10_name folders)"),
    ),
    reg: Flag.String("reg").pipe(
      Flag.withDescription("a regularisation (class) folder, named like the training folder"),
      Flag.optional,
    ),
    ...sizingFlags,
    batchSize: Flag.Int("batch-size").pipe(
      Flag.withDescription("for steps per epoch (the guide's default: 2)"),
      Flag.withDefault(2),
    ),
    concurrency: Flag.Int("concurrency").pipe(
      Flag.withDescription("images read at once"),
      Flag.withDefault(4),
    ),
    json: switchFlag("json", "print the report as JSON (progress: JSON lines on stderr)"),
  },
  (flags) =>
    Effect.gen(function* () {
      const sizing = yield* sizingFrom(flags)
      const batchSize = yield* positive("batch-size", flags.batchSize)
      const concurrency = yield* positive("concurrency", flags.concurrency)
      const captionExtension = yield* captionExtensionFrom(flags.captionExtension)
      const report: CheckReport = yield* checkDataset(flags.dir, {
        sizing,
        batchSize,
        concurrency,
        captionExtension,
        ...(Option.isSome(flags.reg) ? { regularizationRoot: flags.reg.value } : {}),
      }).pipe(showProgress({ json: flags.json }))
      yield* Console.log(flags.json ? JSON.stringify(report, null, 2) : formatCheckReport(report).trimEnd())
    }),
).pipe(
  Command.withDescription(
    "Report what to fix before training: counts and steps per epoch, bad or odd files, duplicates, sizes and buckets, captions, and the guide's advice. Reads only.",
  ),
)

const formats: Record<string, OutputFormat | "same"> = {
  same: "same",
  png: "png",
  jpg: "jpeg",
  jpeg: "jpeg",
  webp: "webp",
}

const summarizePrepare = (result: PrepareResult): string => {
  const lines = [`wrote ${result.images.length} images to ${result.out}`]
  const buckets = new Map<string, number>()
  for (const image of result.images) {
    const key = formatSize(image.bucket)
    buckets.set(key, (buckets.get(key) ?? 0) + 1)
  }
  lines.push(`sizes: ${[...buckets.entries()].map(([size, count]) => `${size} ${count}`).join(", ")}`)
  if (result.upscaled.length > 0) {
    lines.push(
      `⚠ ${result.upscaled.length} enlarged with Lanczos (they will look soft): ${result.upscaled.join(", ")}`,
    )
  }
  for (const skipped of result.skipped) lines.push(`skipped ${skipped.path}: ${skipped.reason}`)
  return lines.join("\n")
}

const prepare = Command.make(
  "prepare",
  {
    dir: Argument.String("dir").pipe(
      Argument.withDescription("the training folder (the parent of the 10_name folders)"),
    ),
    out: Flag.String("out").pipe(
      Flag.withDescription("where the prepared copy goes (outside the training folder)"),
    ),
    ...sizingFlags,
    background: Flag.String("background").pipe(
      Flag.withDescription(
        "colour that transparency is flattened onto: white, black, grey, #rrggbb or r,g,b",
      ),
      Flag.withDefault("white"),
    ),
    upscale: switchFlag(
      "upscale",
      "enlarge images smaller than their size with Lanczos (soft) instead of skipping them",
    ),
    format: Flag.Literals("format", ["same", "png", "jpg", "jpeg", "webp"]).pipe(
      Flag.withDescription("output format; same keeps each image's own"),
      Flag.withDefault("same"),
    ),
    quality: Flag.Int("quality").pipe(Flag.withDescription("JPEG/WebP quality"), Flag.withDefault(95)),
    force: switchFlag(
      "force",
      "replace captions changed in --out since an earlier prepare; each old one is kept as <caption>.bak",
    ),
    concurrency: Flag.Int("concurrency").pipe(
      Flag.withDescription("images processed at once"),
      Flag.withDefault(2),
    ),
    json: switchFlag("json", "print the result as JSON (progress: JSON lines on stderr)"),
  },
  (flags) =>
    Effect.gen(function* () {
      const sizing = yield* sizingFrom(flags)
      const background = parseColour(flags.background)
      if (background === undefined) {
        return yield* new UserError({
          message: `--background ${flags.background} is not a colour; write white, #ffffff or 255,255,255`,
        })
      }
      const concurrency = yield* positive("concurrency", flags.concurrency)
      const captionExtension = yield* captionExtensionFrom(flags.captionExtension)
      const result = yield* prepareDataset(flags.dir, {
        out: flags.out,
        sizing,
        background,
        upscale: flags.upscale,
        format: formats[flags.format] ?? "same",
        quality: flags.quality,
        captionExtension,
        replaceChangedCaptions: flags.force,
        concurrency,
      }).pipe(showProgress({ json: flags.json }))
      yield* Console.log(flags.json ? JSON.stringify(result, null, 2) : summarizePrepare(result))
    }),
).pipe(
  Command.withDescription(
    "Write a training-ready copy: each image resized and cropped to a fixed size or its bucket, transparency flattened, metadata stripped, captions alongside. Your files are never changed.",
  ),
)

/** `danlu dataset` — step 3 of the guide, 选图: check a training folder and prepare a clean copy. */
export const dataset = Command.make("dataset").pipe(
  Command.withDescription("选图 — check and prepare a training folder."),
  Command.withSubcommands([check, prepare]),
)
