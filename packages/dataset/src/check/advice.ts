import { basename } from "node:path"
import { formatSize } from "../buckets/sizing.js"
import type { TrainingFolder } from "../folders/trainingFolder.js"
import type { Advice, CheckReport } from "./checkReport.js"

/** The guide asks for enough images that every angle and expression is covered; fewer overfit fast. */
export const smallSetThreshold = 15

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`
const are = (n: number) => (n === 1 ? "is" : "are")
const have = (n: number) => (n === 1 ? "has" : "have")

/**
 * The guide's and kohya's advice, where a report shows it applies. What cannot be measured (whether
 * a character set shows the back and the side) is left to the user's eyes.
 */
export const adviseOn = (
  report: Omit<CheckReport, "advice">,
  folder: TrainingFolder,
): ReadonlyArray<Advice> => {
  const advice: Array<Advice> = []
  const warn = (message: string) => advice.push({ level: "warning", message })
  const info = (message: string) => advice.push({ level: "info", message })
  const train = report.concepts.filter((c) => !c.isRegularization)

  if (train.length === 0) {
    if (folder.rootLooksLikeConcept) {
      warn(
        `${basename(folder.root)} looks like a concept folder itself: point danlu at its parent folder (the training folder holds the <repeats>_<name> folders)`,
      )
    } else {
      warn(
        `no <repeats>_<name> folders in ${folder.root}: put the images in a sub-folder such as 10_${basename(folder.root)}`,
      )
    }
  }
  for (const concept of report.concepts.filter((c) => c.hyphenated)) {
    info(
      `${concept.folderName}: danlu reads the guide's "<repeats>-<name>", but kohya and 秋叶 ignore it; rename it to ${concept.folderName.replace("-", "_")} to train there`,
    )
  }
  for (const concept of train.filter((c) => c.images > 0 && c.images < smallSetThreshold)) {
    warn(
      `${concept.folderName} has only ${plural(concept.images, "image")}: with fewer than ${smallSetThreshold} a LoRA tends to copy them; add more angles (full body, half body, close-up, front, side, back) and expressions`,
    )
  }
  for (const concept of train.filter((c) => c.images === 0))
    warn(`${concept.folderName} has no usable images`)

  const bucketed = report.buckets.reduce((sum, b) => sum + b.count, 0)
  const largest = report.buckets.reduce((max, b) => Math.max(max, b.count), 0)
  if (report.settings.sizing.mode === "buckets" && report.buckets.length > 3 && largest < bucketed * 0.6) {
    warn(
      `aspect ratios are heavily mixed (${report.buckets.length} buckets, the largest holds ${Math.round((100 * largest) / bucketed)} %): the guide suggests one size such as 512×512 or 512×768 (danlu dataset prepare --size), or enough images per bucket`,
    )
  }
  const { problems } = report
  if (problems.decodeFailures.length > 0) {
    warn(
      `${plural(problems.decodeFailures.length, "file")} cannot be decoded and will be skipped; re-export or remove them`,
    )
  }
  if (problems.noBucket.length > 0 && report.settings.sizing.mode === "buckets") {
    warn(
      `${plural(problems.noBucket.length, "image")} ${have(problems.noBucket.length)} a side under the ${report.settings.sizing.step} px bucket step; without upscaling no bucket fits ${problems.noBucket.length === 1 ? "it, so it is" : "them, so they are"} left out`,
    )
  }
  if (problems.belowResolution.length > 0) {
    const target =
      report.settings.sizing.mode === "fixed"
        ? report.settings.sizing.size
        : report.settings.sizing.resolution
    warn(
      `${plural(problems.belowResolution.length, "image")} ${are(problems.belowResolution.length)} smaller than the ${formatSize(target)} target and will look blurry after upscaling; upscale them with a super-resolution tool first (the guide: 超分) or replace them`,
    )
  }
  if (problems.exactDuplicates.length > 0) {
    warn(
      `${plural(problems.exactDuplicates.length, "group")} of identical files: each copy trains the image again; keep one`,
    )
  }
  if (problems.nearDuplicates.length > 0) {
    info(
      `${plural(problems.nearDuplicates.length, "group")} of near-identical images: keep them only if the differences matter`,
    )
  }
  if (problems.alpha.length > 0) {
    info(
      `${plural(problems.alpha.length, "image")} ${have(problems.alpha.length)} an alpha channel, which will be flattened onto white (prepare --background to choose the colour)`,
    )
  }
  if (problems.animated.length > 0)
    info(`${plural(problems.animated.length, "animated image")}: only the first frame is used`)
  if (problems.cmyk.length > 0 || problems.highBitDepth.length > 0) {
    info(
      `${plural(problems.cmyk.length + problems.highBitDepth.length, "image")} ${are(problems.cmyk.length + problems.highBitDepth.length)} CMYK or 16-bit and will be converted to 8-bit sRGB`,
    )
  }
  if (problems.exifRotated.length > 0) {
    info(
      `${plural(problems.exifRotated.length, "image")} ${have(problems.exifRotated.length)} an EXIF rotation; danlu applies it, but some trainers do not — prepare writes them upright`,
    )
  }
  if (problems.extensionMismatch.length > 0) {
    info(
      `${plural(problems.extensionMismatch.length, "file")} ${have(problems.extensionMismatch.length)} an extension that does not match their content`,
    )
  }
  if (report.formats.webp !== undefined) {
    info("the guide asks for PNG or JPG; WebP trains fine in kohya and danlu, but other tools may skip it")
  }

  const { captions } = report
  if (captions.otherExtension !== undefined) {
    warn(
      `${plural(captions.otherExtension.count, "image")} ${have(captions.otherExtension.count)} a ${captions.otherExtension.extension} caption but no ${captions.extension} one: pass --caption-extension ${captions.otherExtension.extension}`,
    )
  } else if (captions.missing.length > 0) {
    warn(
      `${plural(captions.missing.length, "image")} ${have(captions.missing.length)} no ${captions.extension} caption: tag them first (打标), or training falls back to the folder name`,
    )
  }
  if (captions.empty.length > 0)
    warn(`${plural(captions.empty.length, "caption file")} ${are(captions.empty.length)} empty`)
  if (captions.unreadable.length > 0)
    warn(
      `${plural(captions.unreadable.length, "caption file")} cannot be read; the first, ${basename(captions.unreadable[0]!.path)}: ${captions.unreadable[0]!.reason}`,
    )
  if (captions.orphans.length > 0)
    warn(
      `${plural(captions.orphans.length, "caption file")} ${have(captions.orphans.length)} no image beside ${captions.orphans.length === 1 ? "it" : "them"} (a renamed or deleted image?)`,
    )

  const reg = report.concepts.filter((c) => c.isRegularization)
  const regImages = reg.reduce((sum, c) => sum + c.imagesTimesRepeats, 0)
  if (reg.length > 0 && regImages > report.totals.imagesTimesRepeats) {
    info(
      "there are more regularisation images × repeats than training images × repeats; kohya uses only as many as it needs",
    )
  }
  if (train.length > 0) {
    info(
      "check by eye what no tool can: a character set needs full-body, half-body and close-up shots, front, side and back views, and several expressions; a style set needs one shared look",
    )
  }
  return advice
}
