import sharp from "sharp"
import type { Rgb } from "../image/decode.js"
import type { GridFont } from "./gridFont.js"

/** An RGBA image of text, cut to the text's extent. */
export interface LabelImage {
  readonly width: number
  readonly height: number
  readonly data: Buffer
}

export interface LabelStyle {
  readonly font: GridFont
  /** Font size in pixels (Pango points at 72 dpi). */
  readonly size: number
  /** Wrap width: words wrap, and a word (or a run of CJK) longer than this breaks between characters. */
  readonly width: number
  readonly colour: Rgb
  readonly bold?: boolean
}

// Pango parses the text as markup.
const escapeMarkup = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;")

const hex = ({ r, g, b }: Rgb) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("")}`

/** Draws one label with sharp's Pango text input; undefined for blank text. */
export const renderLabel = async (text: string, style: LabelStyle): Promise<LabelImage | undefined> => {
  if (text.trim() === "") return undefined
  const body = `<span foreground="${hex(style.colour)}">${escapeMarkup(text)}</span>`
  const { data, info } = await sharp({
    text: {
      text: style.bold ? `<b>${body}</b>` : body,
      font: `${style.font.family} ${Math.max(1, Math.round(style.size))}`,
      ...(style.font.file === undefined ? {} : { fontfile: style.font.file }),
      width: Math.max(1, Math.floor(style.width)),
      align: "centre",
      wrap: "word-char",
      rgba: true,
      dpi: 72,
    },
  })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  return { width: info.width, height: info.height, data }
}

// A run of non-space characters outside CJK, or one CJK character: lines may break between CJK
// characters without breaking a word, so each counts as a word of its own.
const cjk = "\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}"
const words = new RegExp(`[${cjk}]|[^\\s${cjk}]+`, "gu")

/** Wide enough that Pango never wraps a single word. */
const unwrapped = 100_000

/** Width in pixels of the label's widest word at the style's size (0 for blank text). */
export const widestWord = async (text: string, style: Omit<LabelStyle, "width">): Promise<number> => {
  const unique = [...new Set(text.match(words) ?? [])]
  const widths = await Promise.all(
    unique.map(async (word) => (await renderLabel(word, { ...style, width: unwrapped }))?.width ?? 0),
  )
  return Math.max(0, ...widths)
}

/**
 * The style's size, shrunk a step at a time as {@link renderFittedLabel} does until no word of the text
 * is wider than the style's width, so the label wraps between words only; 8 px at the smallest.
 */
export const sizeFittingWords = async (text: string, style: LabelStyle): Promise<number> => {
  let size = style.size
  while (size > 8 && (await widestWord(text, { ...style, size })) > style.width)
    size = Math.max(8, Math.floor(size * 0.85))
  return size
}

/**
 * {@link renderLabel}, shrinking the font a step at a time (as A1111 does) until the label fits in
 * `maxHeight`; the smallest size is kept even if it still does not fit.
 */
export const renderFittedLabel = async (
  text: string,
  style: LabelStyle,
  maxHeight: number,
): Promise<LabelImage | undefined> => {
  let size = style.size
  for (;;) {
    const label = await renderLabel(text, { ...style, size })
    if (label === undefined || label.height <= maxHeight || size <= 8) return label
    size = Math.max(8, Math.floor(size * 0.85))
  }
}
