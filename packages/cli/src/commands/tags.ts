import {
  addTags,
  type CaptionEdit,
  dedupe,
  defaultPruneShare,
  editCaptions,
  moveToFront,
  pruneConceptTags,
  removeTags,
  replaceTag,
  TaggerInputError,
  tagFrequency,
  undoCaptionChanges,
} from "@danlu/tagger"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { UserError } from "../userError.js"
import { captionExtensionFlag, captionExtensionFrom } from "./captionExtension.js"
import { switchFlag } from "./switchFlag.js"
import { percent, percentShare, printEditReport, printFrequency, tagList } from "./tagsOutput.js"

const folder = Argument.String("folder").pipe(Argument.withDescription("the dataset folder"))
const tagArguments = Argument.String("tags").pipe(
  Argument.variadic({ min: 1 }),
  Argument.withDescription('tags, as separate arguments or comma-separated: "pink hair, long hair"'),
)
const dryRun = switchFlag("dry-run", "show the changes without writing")
const recursive = Flag.Boolean("recursive").pipe(
  Flag.withDefault(true),
  Flag.withDescription("include sub-folders (each one a concept); --no-recursive for the folder alone"),
)
const editFlags = { folder, dryRun, recursive, captionExtension: captionExtensionFlag }

interface EditInput {
  readonly folder: string
  readonly dryRun: boolean
  readonly recursive: boolean
  readonly captionExtension: string
}

/** Builds the edit (a bad regex fails here, as one line), applies it over the folder and prints the diff. */
const runEdit = (name: string, input: EditInput, makeEdit: () => CaptionEdit) =>
  Effect.gen(function* () {
    const edit = yield* Effect.try({
      try: makeEdit,
      catch: (error) =>
        error instanceof TaggerInputError ? error : new TaggerInputError({ message: String(error) }),
    })
    const report = yield* editCaptions(input.folder, `tags ${name}`, edit, {
      dryRun: input.dryRun,
      recursive: input.recursive,
      captionExtension: yield* captionExtensionFrom(input.captionExtension),
    })
    yield* printEditReport(input.folder, report)
  })

const list = Command.make(
  "list",
  {
    folder,
    recursive,
    captionExtension: captionExtensionFlag,
    top: Flag.Int("top").pipe(Flag.withDefault(30), Flag.withDescription("rows per table")),
  },
  (input) =>
    Effect.gen(function* () {
      if (input.top < 1) return yield* new UserError({ message: `--top ${input.top}: give at least 1 row` })
      const report = yield* tagFrequency(input.folder, {
        recursive: input.recursive,
        captionExtension: yield* captionExtensionFrom(input.captionExtension),
      })
      if (report.total.images === 0)
        yield* Console.log(`${input.folder}: no images here, so no captions to count`)
      for (const group of report.concepts) yield* printFrequency(group, input.top)
      if (report.concepts.length > 1) yield* printFrequency(report.total, input.top)
    }),
).pipe(Command.withDescription("tag frequency table per concept folder and in total"))

const add = Command.make(
  "add",
  {
    ...editFlags,
    tags: tagArguments,
    front: switchFlag("front", "put them first"),
  },
  (input) => runEdit("add", input, () => addTags(tagList(input.tags), input.front ? "front" : "end")),
).pipe(Command.withDescription("add tags to every caption that lacks them"))

const remove = Command.make("remove", { ...editFlags, tags: tagArguments }, (input) =>
  runEdit("remove", input, () => removeTags(tagList(input.tags))),
).pipe(Command.withDescription("remove tags from every caption"))

const replace = Command.make(
  "replace",
  {
    ...editFlags,
    search: Argument.String("search").pipe(
      Argument.withDescription(
        "the tag to replace, matched as a whole tag (with --regex: a pattern run on each tag)",
      ),
    ),
    replacement: Argument.String("replacement").pipe(
      Argument.withDescription('the new tag(s); "" removes, "a, b" makes two'),
    ),
    regex: switchFlag("regex", "search is a JavaScript regular expression applied to each tag; $1 works"),
  },
  (input) =>
    runEdit("replace", input, () => replaceTag(input.search, input.replacement, { regex: input.regex })),
).pipe(Command.withDescription("replace a tag (whole tag), or text inside tags with --regex"))

const moveFront = Command.make("move-to-front", { ...editFlags, tags: tagArguments }, (input) =>
  runEdit("move-to-front", input, () => moveToFront(tagList(input.tags))),
).pipe(Command.withDescription("move tags to the front, in the given order (for keep_tokens)"))

const dedupeCommand = Command.make("dedupe", editFlags, (input) =>
  runEdit("dedupe", input, () => dedupe),
).pipe(Command.withDescription("remove repeated tags"))

const undo = Command.make("undo", { folder }, (input) =>
  Effect.gen(function* () {
    const result = yield* undoCaptionChanges(input.folder)
    const removed = result.removed > 0 ? `, removed ${result.removed} captions it created` : ""
    yield* Console.log(`undid "${result.command}": restored ${result.restored} captions${removed}`)
  }),
).pipe(
  Command.withDescription("restore the captions changed by the last danlu tag / tags command in this folder"),
)

const prune = Command.make(
  "prune",
  {
    folder,
    recursive,
    captionExtension: captionExtensionFlag,
    dryRun,
    trigger: Flag.String("trigger").pipe(Flag.withDescription("the LoRA's trigger word(s), comma-separated")),
    share: Flag.Finite("share").pipe(
      Flag.withDefault(defaultPruneShare * 100),
      Flag.withDescription("show tags in at least this % of a concept's captions"),
    ),
    remove: Flag.String("remove").pipe(
      Flag.optional,
      Flag.withDescription("tags to remove, comma-separated"),
    ),
    auto: switchFlag("auto", "remove every tag at or above --share from its concept"),
    keep: Flag.String("keep").pipe(
      Flag.optional,
      Flag.withDescription("tags --auto leaves, comma-separated"),
    ),
  },
  (input) =>
    Effect.gen(function* () {
      const minShare = yield* percentShare("share", input.share)
      const report = yield* pruneConceptTags(input.folder, {
        trigger: tagList([input.trigger]),
        minShare,
        remove: tagList(Option.toArray(input.remove)),
        keep: tagList(Option.toArray(input.keep)),
        auto: input.auto,
        dryRun: input.dryRun,
        recursive: input.recursive,
        captionExtension: yield* captionExtensionFrom(input.captionExtension),
      })
      for (const concept of report.candidates) {
        const tags = concept.tags.map((tag) => `${tag.tag} (${percent(tag.share)})`).join(", ")
        yield* Console.log(
          `${concept.concept}: ${concept.captioned} captions; in ≥ ${percent(minShare)}: ${tags === "" ? "none" : tags}`,
        )
      }
      if (Option.isNone(input.remove) && !input.auto) {
        yield* Console.log(
          "these are the concept's inherent features: remove the ones the trigger word should learn with --remove <tags> (or --auto)",
        )
        return
      }
      for (const removed of report.removed) {
        yield* Console.log(`  ${removed.concept}: -${removed.tag} from ${removed.count} captions`)
      }
      if (report.triggerPlaced > 0) {
        yield* Console.log(`  trigger word first in ${report.triggerPlaced} more captions`)
      }
      yield* printEditReport(input.folder, report.edit, input.dryRun ? 50 : 0)
    }),
).pipe(
  Command.withDescription(
    "find the tags most of a concept's captions share and remove them, so the trigger word learns those features",
  ),
)

export const tags = Command.make("tags").pipe(
  Command.withDescription("edit captions over a folder; every write keeps one backup level (tags undo)"),
  Command.withSubcommands([list, add, remove, replace, moveFront, dedupeCommand, prune, undo]),
)
