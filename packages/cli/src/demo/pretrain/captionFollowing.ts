import { backgrounds, type ColourName, colours } from "./scenes.js"

/** A preview caption with what a model that follows it must draw where it can be measured. */
export interface PreviewPrompt {
  readonly prompt: string
  /** The colour of a large centred shape, read at the picture's centre. */
  readonly shape?: ColourName
  /** The plain background, read along the picture's border. */
  readonly background?: (typeof backgrounds)[number]["plain"]
}

/** Captions from the pretraining set's vocabulary: eight shape colours, five shapes, six backgrounds. */
export const previewPrompts: ReadonlyArray<PreviewPrompt> = [
  { prompt: "large red circle, white background", shape: "red", background: "white" },
  { prompt: "large blue square, yellow background", shape: "blue", background: "yellow" },
  { prompt: "large yellow triangle, black background", shape: "yellow", background: "black" },
  { prompt: "large green diamond, grey background", shape: "green", background: "grey" },
  { prompt: "large purple circle, green background", shape: "purple", background: "green" },
  { prompt: "large orange ring, blue background", background: "blue" },
  { prompt: "large white square, black background", shape: "white", background: "black" },
  { prompt: "small pink circle at the top, grass and sky" },
]

const rgb = (hex: string): readonly [number, number, number] => {
  const v = Number.parseInt(hex.slice(1), 16)
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255]
}

/** The mean colour, in [0, 255], of the pixels of one channels-first [-1, 1] picture that `inside` picks. */
const meanColour = (
  data: Float32Array,
  offset: number,
  size: number,
  inside: (x: number, y: number) => boolean,
): readonly [number, number, number] => {
  const sums = [0, 0, 0]
  let count = 0
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      if (!inside(x, y)) continue
      count++
      for (let c = 0; c < 3; c++)
        sums[c]! += (Math.max(-1, Math.min(1, data[offset + (c * size + y) * size + x]!)) + 1) * 127.5
    }
  return [sums[0]! / count, sums[1]! / count, sums[2]! / count]
}

const nearest = <K extends string>(
  colour: readonly number[],
  palette: ReadonlyArray<readonly [K, string]>,
): K => {
  let best = palette[0]![0]
  let distance = Number.POSITIVE_INFINITY
  for (const [name, hex] of palette) {
    const d = rgb(hex).reduce((sum, v, c) => sum + (v - colour[c]!) ** 2, 0)
    if (d < distance) {
      distance = d
      best = name
    }
  }
  return best
}

export interface CaptionFollowing {
  /** Pictures whose centre is nearest, among the ten shape colours, to the one the caption names. */
  readonly shapes: { readonly right: number; readonly of: number }
  /** Pictures whose border is nearest, among the six plain backgrounds, to the one the caption names. */
  readonly backgrounds: { readonly right: number; readonly of: number }
}

/**
 * How well samples follow their captions' colour words: each picture's centre and border classified to the
 * nearest named colour of the set and compared with the caption. Chance is 1 in 10 for shapes, 1 in 6 for
 * backgrounds. `prompts[i % prompts.length]` is the caption of picture `i`.
 */
export const captionFollowing = (
  pictures: Float32Array,
  count: number,
  size: number,
  prompts: ReadonlyArray<PreviewPrompt> = previewPrompts,
): CaptionFollowing => {
  const shapePalette = Object.entries(colours) as Array<[ColourName, string]>
  const backgroundPalette = backgrounds.map((b) => [b.plain, b.fill] as [string, string])
  const border = Math.max(1, Math.round(size / 10))
  const half = size / 2
  const radius = size / 10
  const shapes = { right: 0, of: 0 }
  const bgs = { right: 0, of: 0 }
  for (let i = 0; i < count; i++) {
    const prompt = prompts[i % prompts.length]!
    const offset = i * 3 * size * size
    if (prompt.shape !== undefined) {
      const centre = meanColour(
        pictures,
        offset,
        size,
        (x, y) => Math.abs(x + 0.5 - half) <= radius && Math.abs(y + 0.5 - half) <= radius,
      )
      shapes.of++
      if (nearest(centre, shapePalette) === prompt.shape) shapes.right++
    }
    if (prompt.background !== undefined) {
      const edge = meanColour(
        pictures,
        offset,
        size,
        (x, y) => x < border || y < border || x >= size - border || y >= size - border,
      )
      bgs.of++
      if (nearest(edge, backgroundPalette) === prompt.background) bgs.right++
    }
  }
  return { shapes, backgrounds: bgs }
}
