import { runXyz, type XyzAxisSpec, type XyzAxisType, xyzAxisTypes } from "@danlu/dataset"
import {
  type ChannelValues,
  defaultEmbedderCopyDistance,
  type ImageEmbedderOptions,
  loadImageEmbedder,
} from "@danlu/tagger"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { chooseBackend } from "../backends/chooseBackend.js"
import { showProgress } from "../progress/showProgress.js"
import { UserError } from "../userError.js"
import { drawFlags, drawSettings } from "./generate.js"

const list = (text: string): Array<string> =>
  text
    .split(",")
    .map((value) => value.trim())
    .filter((value) => value !== "")

const axisFlags = (axis: "x" | "y" | "z", description: string) => ({
  type: Flag.Literals(axis, xyzAxisTypes).pipe(Flag.optional, Flag.withDescription(description)),
  values: Flag.String(`${axis}-values`).pipe(
    Flag.optional,
    Flag.withDescription(`comma-separated values of the ${axis.toUpperCase()} axis`),
  ),
})

const axisOf = (
  type: Option.Option<XyzAxisType>,
  values: Option.Option<string>,
  fallback: XyzAxisType | undefined,
): XyzAxisSpec | undefined => {
  const chosen = Option.getOrUndefined(type) ?? fallback
  if (chosen === undefined) return undefined
  const given = Option.getOrUndefined(values)
  return given === undefined ? { type: chosen } : { type: chosen, values: list(given) }
}

/** Three comma-separated numbers (R, G, B), or a `UserError` naming the flag. */
const channelValues = (flag: string, text: string): Effect.Effect<ChannelValues, UserError> => {
  const values = list(text).map(Number)
  return values.length === 3 && values.every(Number.isFinite)
    ? Effect.succeed(values as unknown as ChannelValues)
    : Effect.fail(new UserError({ message: `--${flag} takes three numbers (R,G,B), e.g. 0.485,0.456,0.406` }))
}

const embedderSettings = (options: {
  readonly embedderMean: Option.Option<string>
  readonly embedderStd: Option.Option<string>
  readonly embedderCopyDistance: Option.Option<number>
}): Effect.Effect<ImageEmbedderOptions, UserError> =>
  Effect.gen(function* () {
    const mean = Option.isSome(options.embedderMean)
      ? yield* channelValues("embedder-mean", options.embedderMean.value)
      : undefined
    const std = Option.isSome(options.embedderStd)
      ? yield* channelValues("embedder-std", options.embedderStd.value)
      : undefined
    if (std?.some((v) => v <= 0)) return yield* new UserError({ message: "--embedder-std must be positive" })
    return {
      ...(mean === undefined ? {} : { mean }),
      ...(std === undefined ? {} : { std }),
      ...(Option.isSome(options.embedderCopyDistance)
        ? { copyDistance: options.embedderCopyDistance.value }
        : {}),
    }
  })

const minutes = (seconds: number) =>
  seconds < 90 ? `${Math.ceil(seconds)} s` : `${(seconds / 60).toFixed(1)} min`

const x = axisFlags("x", "X axis (default epochs: the run's files)")
const y = axisFlags("y", "Y axis (default weights)")
const z = axisFlags("z", "Z axis: one grid per value")

export const xyz = Command.make(
  "xyz",
  {
    ...drawFlags,
    loraDir: Flag.String("lora-dir").pipe(Flag.withDescription("the training run's output folder")),
    name: Flag.String("name").pipe(
      Flag.withDescription("the run's output name (my-lora → my-lora-000002.safetensors …)"),
    ),
    prompt: Flag.String("prompt").pipe(
      Flag.withDescription("A1111 prompt; each cell adds <lora:file:weight>"),
    ),
    weights: Flag.String("weights").pipe(
      Flag.optional,
      Flag.withDescription(
        "LoRA weights, comma-separated (default 0.3,0.6,0.8; 0, the base alone, is always drawn)",
      ),
    ),
    xType: x.type,
    xValues: x.values,
    yType: y.type,
    yValues: y.values,
    zType: z.type,
    zValues: z.values,
    zModels: Flag.String("z-models").pipe(
      Flag.optional,
      Flag.withDescription("Z = base models, comma-separated (迁移: does it transfer?)"),
    ),
    zPrompts: Flag.String("z-prompts").pipe(
      Flag.optional,
      Flag.withDescription('Z = Prompt S/R: "red,blue" replaces red with each value'),
    ),
    zSeeds: Flag.String("z-seeds").pipe(Flag.optional, Flag.withDescription("Z = seeds, comma-separated")),
    trainDataDir: Flag.String("train-data-dir").pipe(
      Flag.optional,
      Flag.withDescription(
        "training images, to spot copies (over-fit) and cells the LoRA moved no nearer to them (under-fit)",
      ),
    ),
    minTrainingGain: Flag.Finite("min-training-gain").pipe(
      Flag.optional,
      Flag.withDescription(
        "with --train-data-dir: a cell whose training gain (how much nearer its closest training image it came than the weight-0 picture, 0–1) is below this is under-fit (default 0.1; 0 turns the check off, e.g. for prompts far from the training images)",
      ),
    ),
    embedder: Flag.String("embedder").pipe(
      Flag.optional,
      Flag.withDescription(
        "an image-embedding model in ONNX (CLIP vision, DINOv2) for the copy check instead of the structural measure",
      ),
    ),
    embedderMean: Flag.String("embedder-mean").pipe(
      Flag.optional,
      Flag.withDescription(
        "the embedder's RGB mean for 0–1 pixels (default CLIP's; DINOv2: 0.485,0.456,0.406)",
      ),
    ),
    embedderStd: Flag.String("embedder-std").pipe(
      Flag.optional,
      Flag.withDescription("the embedder's RGB std (default CLIP's; DINOv2: 0.229,0.224,0.225)"),
    ),
    embedderCopyDistance: Flag.Finite("embedder-copy-distance").pipe(
      Flag.optional,
      Flag.withDescription(
        `cosine distance at or below which a cell is a copy of a training image (default ${defaultEmbedderCopyDistance})`,
      ),
    ),
    out: Flag.String("out").pipe(
      Flag.optional,
      Flag.withDescription("output folder (default <lora-dir>/xyz-<name>)"),
    ),
    gridScale: Flag.Int("grid-scale").pipe(
      Flag.optional,
      Flag.withDescription(
        "draw each cell this many times larger in grid.png, nearest neighbour (default: small cells near 128 px, 32 px → 4; 1 for 86 px and up)",
      ),
    ),
    dryRun: Flag.Boolean("dry-run").pipe(
      Flag.withDefault(false),
      Flag.withDescription("print the cell count and a time estimate; draw nothing"),
    ),
  },
  (options) =>
    Effect.gen(function* () {
      const shortcuts = [
        ["models", options.zModels],
        ["prompts", options.zPrompts],
        ["seeds", options.zSeeds],
      ] as const
      const given = shortcuts.filter(([, value]) => Option.isSome(value))
      if (given.length + (Option.isSome(options.zType) ? 1 : 0) > 1)
        return yield* new UserError({ message: "give one Z axis: --z-models, --z-prompts, --z-seeds or --z" })
      const zAxis =
        given.length === 1
          ? { type: given[0]![0] as XyzAxisType, values: list(Option.getOrThrow(given[0]![1])) }
          : axisOf(options.zType, options.zValues, undefined)
      const weights = Option.map(options.weights, (text) => list(text).map(Number))
      if (Option.isSome(weights) && weights.value.some((w) => !Number.isFinite(w)))
        return yield* new UserError({ message: `--weights takes numbers, e.g. 0.3,0.6,0.8` })
      const gridScale = Option.getOrUndefined(options.gridScale)
      if (gridScale !== undefined && gridScale < 1)
        return yield* new UserError({ message: "--grid-scale takes a whole number of at least 1" })
      const out = Option.getOrUndefined(options.out)
      const trainDataDir = Option.getOrUndefined(options.trainDataDir)
      const minTrainingGain = Option.getOrUndefined(options.minTrainingGain)
      if (minTrainingGain !== undefined && (minTrainingGain < 0 || minTrainingGain > 1))
        return yield* new UserError({ message: "--min-training-gain takes a number from 0 to 1, e.g. 0.1" })
      if (minTrainingGain !== undefined && trainDataDir === undefined)
        return yield* new UserError({
          message: "--min-training-gain needs --train-data-dir (the images it measures against)",
        })
      const embedderOptions = yield* embedderSettings(options)
      const backend = yield* chooseBackend(options.backend)
      const started = Date.now()
      const embedder = Option.isSome(options.embedder)
        ? yield* loadImageEmbedder(options.embedder.value, embedderOptions)
        : undefined
      const result = yield* runXyz({
        ...drawSettings(options),
        loraDir: options.loraDir,
        name: options.name,
        prompt: options.prompt,
        x: axisOf(options.xType, options.xValues, "epochs")!,
        y: axisOf(options.yType, options.yValues, "weights")!,
        dryRun: options.dryRun,
        ...(zAxis === undefined ? {} : { z: zAxis }),
        ...(Option.isSome(weights) ? { weights: weights.value } : {}),
        ...(out === undefined ? {} : { outDir: out }),
        ...(gridScale === undefined ? {} : { gridScale }),
        ...(trainDataDir === undefined ? {} : { trainDataDir }),
        ...(minTrainingGain === undefined ? {} : { thresholds: { noTrainingGain: minTrainingGain } }),
        ...(embedder === undefined ? {} : { embedder }),
      }).pipe(Effect.scoped, showProgress({ json: false }), Effect.provide(backend))
      const toDraw = result.pictures - result.skipped
      if (options.dryRun) {
        yield* Console.log(
          `${result.cells} cells, ${result.pictures} pictures (${result.skipped} already made, ${toDraw} to draw)`,
        )
        if (result.stepSeconds !== undefined)
          yield* Console.log(
            `one sampler step takes ${result.stepSeconds.toFixed(3)} s on ${options.backend}: about ${minutes(result.estimateSeconds ?? 0)} to draw`,
          )
        return
      }
      yield* Console.log(
        `${result.cells} cells: drew ${result.drawn}, ${result.skipped} already made, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      )
      for (const line of result.summary) yield* Console.log(line)
      for (const grid of result.grids) yield* Console.log(`grid: ${grid}`)
      if (result.page) yield* Console.log(`page: ${result.page}`)
    }).pipe(Effect.scoped),
).pipe(
  Command.withDescription("验单 — the epochs × weights grid of a training run, read for over/under-fitting"),
)
