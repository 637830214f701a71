import {
  defaultCharacterThreshold,
  defaultExecutionProvider,
  defaultGeneralThreshold,
  tagFolder,
} from "@danlu/tagger"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { showProgress } from "../progress/showProgress.js"
import { captionExtensionFlag, captionExtensionFrom } from "./captionExtension.js"
import { switchFlag } from "./switchFlag.js"
import { tagList } from "./tagsOutput.js"

const optionalNumber = (option: Option.Option<number>) => Option.getOrUndefined(option)

export const tag = Command.make(
  "tag",
  {
    folder: Argument.String("folder").pipe(Argument.withDescription("the dataset folder to caption")),
    model: Flag.String("model").pipe(Flag.withDescription("the tagger's model.onnx (WD1.4 v2 or v3)")),
    tags: Flag.String("tags").pipe(Flag.withDescription("the selected_tags.csv that came with the model")),
    general: Flag.Finite("general").pipe(
      Flag.withDefault(defaultGeneralThreshold),
      Flag.withDescription("threshold for general tags; lower gives more, finer tags"),
    ),
    character: Flag.Finite("character").pipe(
      Flag.withDefault(defaultCharacterThreshold),
      Flag.withDescription("threshold for character tags"),
    ),
    trigger: Flag.String("trigger").pipe(
      Flag.optional,
      Flag.withDescription(
        "trigger word(s) written first, comma-separated — the LoRA's name, e.g. he-tian-yi-lang",
      ),
    ),
    rating: switchFlag("rating", "add the rating tag (general, sensitive, questionable, explicit)"),
    exclude: Flag.String("exclude").pipe(
      Flag.optional,
      Flag.withDescription("tags never written, comma-separated"),
    ),
    keepUnderscores: switchFlag("keep-underscores", "write long_hair instead of long hair"),
    escape: switchFlag("escape", "write \\( \\) so captions paste into A1111 prompts"),
    order: Flag.Literals("order", ["confidence", "csv"]).pipe(
      Flag.withDefault("confidence"),
      Flag.withDescription("tag order: highest confidence first, or the tag list's order"),
    ),
    maxTags: Flag.Int("max-tags").pipe(Flag.optional, Flag.withDescription("keep at most this many tags")),
    existing: Flag.Literals("existing", ["skip", "append", "overwrite"]).pipe(
      Flag.withDefault("skip"),
      Flag.withDescription("images with a caption: leave, append new tags, or overwrite (a backup is kept)"),
    ),
    recursive: switchFlag("recursive", "include sub-folders"),
    batch: Flag.Int("batch").pipe(Flag.withDefault(4), Flag.withDescription("images per inference")),
    provider: Flag.String("provider").pipe(
      Flag.withDefault(defaultExecutionProvider),
      Flag.withDescription("ONNX Runtime execution provider: cpu, cuda, tensorrt, …"),
    ),
    captionExtension: captionExtensionFlag,
  },
  (options) =>
    Effect.gen(function* () {
      const started = Date.now()
      const triggerWords = tagList(Option.toArray(options.trigger))
      const maxTags = optionalNumber(options.maxTags)
      const captionExtension = yield* captionExtensionFrom(options.captionExtension)
      const report = yield* tagFolder({
        folder: options.folder,
        model: options.model,
        tags: options.tags,
        generalThreshold: options.general,
        characterThreshold: options.character,
        triggerWords,
        includeRating: options.rating,
        exclude: tagList(Option.toArray(options.exclude)),
        replaceUnderscores: !options.keepUnderscores,
        escapeParentheses: options.escape,
        order: options.order,
        existing: options.existing,
        recursive: options.recursive,
        batchSize: options.batch,
        provider: options.provider,
        captionExtension,
        ...(maxTags === undefined ? {} : { maxTags }),
      }).pipe(showProgress({ json: false }))
      for (const failure of report.failed) yield* Console.log(`skipped ${failure.image}: ${failure.message}`)
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      const skipped =
        report.skipped > 0 ? `, ${report.skipped} already captioned (--existing append|overwrite)` : ""
      const failed = report.failed.length > 0 ? `, ${report.failed.length} not tagged (see above)` : ""
      yield* Console.log(
        `tagged ${report.written} of ${report.images} images${skipped}${failed} in ${seconds} s ` +
          `(preprocessing ${report.preprocessSeconds.toFixed(1)} s, inference ${report.inferenceSeconds.toFixed(1)} s, batch ${report.batchSize})`,
      )
      if (report.backedUp) yield* Console.log(`undo with: danlu tags undo ${options.folder}`)
    }),
).pipe(
  Command.withDescription(
    "打标 — auto-tag a folder with a WD1.4 tagger (ONNX) and write kohya .txt captions",
  ),
)
