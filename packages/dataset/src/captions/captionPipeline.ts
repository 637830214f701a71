import type { Rng } from "../random/rng.js"

/** kohya's per-subset caption options (sd-scripts `process_caption`), with the guide's defaults. */
export interface CaptionOptions {
  /** Put before the caption with a space, e.g. the trigger word (`caption_prefix`). */
  readonly prefix?: string
  /** Put after the caption with a space (`caption_suffix`). */
  readonly suffix?: string
  /** Probability that the whole caption becomes "" (`caption_dropout_rate`). */
  readonly captionDropoutRate?: number
  /** Drop every caption in epochs where `epoch % n === 0` (`caption_dropout_every_n_epochs`). */
  readonly captionDropoutEveryNEpochs?: number
  /** Shuffle the tags (`shuffle_caption`; the guide: always on). */
  readonly shuffle?: boolean
  /** Keep the first N tags in place (`keep_tokens`). */
  readonly keepTokens?: number
  /**
   * Text before the first occurrence is kept first, text after a second occurrence is kept last
   * (`keep_tokens_separator`, e.g. "|||"); takes precedence over `keepTokens`.
   */
  readonly keepTokensSeparator?: string
  /** Probability of dropping each movable tag (`caption_tag_dropout_rate`). */
  readonly tagDropoutRate?: number
  /** The tag separator (`caption_separator`, default ","). */
  readonly separator?: string
  /** Replaced by the separator after shuffling, so tag groups move as one (`secondary_separator`). */
  readonly secondarySeparator?: string
}

const splitTags = (text: string, separator: string): Array<string> =>
  text
    .split(separator)
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "")

/**
 * One caption for one training sample, in kohya's order: prefix/suffix, whole-caption dropout, split
 * on the separator, fixed tags (`keepTokensSeparator` or `keepTokens`), shuffle, tag dropout, rejoin
 * with ", ", secondary separator. `rng` should be keyed by (seed, epoch, sample) so a run is
 * reproducible. Two small departures from kohya: empty tags (",,") are dropped, and a caption with a
 * `keepTokensSeparator` is always split there, so the separator never reaches the text encoder.
 */
export const processCaption = (caption: string, options: CaptionOptions, epoch: number, rng: Rng): string => {
  const separator = options.separator ?? ","
  let text = caption
  if (options.prefix !== undefined && options.prefix !== "") text = `${options.prefix} ${text}`
  if (options.suffix !== undefined && options.suffix !== "") text = `${text} ${options.suffix}`
  const dropoutRate = options.captionDropoutRate ?? 0
  const everyN = options.captionDropoutEveryNEpochs ?? 0
  const dropped = (dropoutRate > 0 && rng.nextFloat() < dropoutRate) || (everyN > 0 && epoch % everyN === 0)
  if (dropped) return ""
  const tagDropoutRate = options.tagDropoutRate ?? 0
  const keepSeparator = options.keepTokensSeparator
  const hasKeepSeparator = keepSeparator !== undefined && keepSeparator !== "" && text.includes(keepSeparator)
  if (options.shuffle === true || tagDropoutRate > 0 || hasKeepSeparator) {
    let fixed: Array<string> = []
    let flexible: Array<string>
    let fixedSuffix: Array<string> = []
    if (hasKeepSeparator && keepSeparator !== undefined) {
      const at = text.indexOf(keepSeparator)
      let flexiblePart = text.slice(at + keepSeparator.length)
      const second = flexiblePart.indexOf(keepSeparator)
      if (second >= 0) {
        fixedSuffix = splitTags(flexiblePart.slice(second + keepSeparator.length), separator)
        flexiblePart = flexiblePart.slice(0, second)
      }
      fixed = splitTags(text.slice(0, at), separator)
      flexible = splitTags(flexiblePart, separator)
    } else {
      const tags = splitTags(text, separator)
      const keep = options.keepTokens ?? 0
      fixed = tags.slice(0, keep)
      flexible = tags.slice(keep)
    }
    if (options.shuffle === true) {
      for (let i = flexible.length - 1; i > 0; i--) {
        const j = rng.nextInt(i + 1)
        const held = flexible[i]!
        flexible[i] = flexible[j]!
        flexible[j] = held
      }
    }
    if (tagDropoutRate > 0) flexible = flexible.filter(() => rng.nextFloat() >= tagDropoutRate)
    text = [...fixed, ...flexible, ...fixedSuffix].join(", ")
  }
  if (options.secondarySeparator !== undefined && options.secondarySeparator !== "") {
    text = text.split(options.secondarySeparator).join(separator)
  }
  return text
}
