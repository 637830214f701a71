import sharp, { type OverlayOptions } from "sharp"
import { DatasetError } from "../errors.js"
import { type RawImage, type Rgb, white } from "../image/decode.js"
import { defaultCellScale, enlargeCell } from "./enlargeCell.js"
import { defaultGridFont, type GridFont } from "./gridFont.js"
import {
  type LabelImage,
  renderFittedLabel,
  renderLabel,
  sizeFittingWords,
  widestWord,
} from "./renderLabel.js"

/** A coloured border drawn inside a cell's edge, with an optional short label in its top-left corner. */
export interface GridMark {
  readonly colour: Rgb
  readonly label?: string
}

export interface GridSpec {
  /** rows × columns (Y × X), all the same size; null leaves a cell blank (not made, or failed). */
  readonly cells: ReadonlyArray<ReadonlyArray<RawImage | null>>
  /** Each column is labelled "<xTitle>: <value>" (A1111's `format_value_add_label`), or just the value. */
  readonly xTitle: string
  readonly yTitle: string
  readonly xLabels: ReadonlyArray<string>
  readonly yLabels: ReadonlyArray<string>
  /** A line above the column labels, as A1111 titles each Z sub-grid. */
  readonly title?: string
  /** rows × columns, like `cells`. */
  readonly marks?: ReadonlyArray<ReadonlyArray<GridMark | undefined>>
  /**
   * Each cell drawn this many times larger, nearest neighbour (an integer ≥ 1). Default
   * {@link defaultCellScale}: 4 for 32 px cells, 1 for A1111-size ones. Labels, marks and margin are
   * sized from the enlarged cell.
   */
  readonly scale?: number
  /** White gap between cells in pixels (A1111's "Grid margins", default 0). */
  readonly margin?: number
  /** Defaults to {@link defaultGridFont}. */
  readonly font?: GridFont
}

/** Where everything landed, in pixels of the grid image. */
export interface GridLayout {
  readonly width: number
  readonly height: number
  /** How many times the cells were enlarged; `cellWidth` and `cellHeight` are the enlarged size. */
  readonly scale: number
  readonly cellWidth: number
  readonly cellHeight: number
  readonly margin: number
  /** Height of the title band (0 without a title). */
  readonly titleHeight: number
  /** Height of the column-label band (0 when every column label is blank). */
  readonly columnLabelHeight: number
  /**
   * Width of the row-label band (0 when every row label is blank): A1111's three quarters of a cell, or
   * the widest word of a row label when that is wider (up to two cells).
   */
  readonly rowLabelWidth: number
  /** A1111's `(cell width + cell height) // 25`. */
  readonly fontSize: number
}

export interface GridImage {
  readonly png: Uint8Array
  readonly layout: GridLayout
}

/** The top-left pixel of the cell in row `row`, column `column`. */
export const cellOrigin = (layout: GridLayout, row: number, column: number) => ({
  left: layout.rowLabelWidth + column * (layout.cellWidth + layout.margin),
  top: layout.titleHeight + layout.columnLabelHeight + row * (layout.cellHeight + layout.margin),
})

const black: Rgb = { r: 0, g: 0, b: 0 }

const axisLabel = (title: string, value: string) => (title.trim() === "" ? value : `${title}: ${value}`)

const checkSpec = (spec: GridSpec) => {
  const rows = spec.cells.length
  const columns = spec.cells[0]?.length ?? 0
  if (rows === 0 || columns === 0) throw new DatasetError({ message: "a grid needs at least one cell" })
  if (spec.cells.some((row) => row.length !== columns))
    throw new DatasetError({ message: `every grid row needs ${columns} cells` })
  if (spec.xLabels.length !== columns || spec.yLabels.length !== rows)
    throw new DatasetError({
      message: `a ${rows}×${columns} grid needs ${columns} x labels and ${rows} y labels, got ${spec.xLabels.length} and ${spec.yLabels.length}`,
    })
  const present = spec.cells.flat().filter((cell): cell is RawImage => cell !== null)
  const first = present[0]
  if (first === undefined) throw new DatasetError({ message: "a grid needs at least one image" })
  const odd = present.find((cell) => cell.width !== first.width || cell.height !== first.height)
  if (odd !== undefined)
    throw new DatasetError({
      message: `grid cells must all be ${first.width}×${first.height}, one is ${odd.width}×${odd.height}`,
    })
  const scale = spec.scale ?? defaultCellScale(first.width, first.height)
  if (!Number.isInteger(scale) || scale < 1)
    throw new DatasetError({
      message: `a grid's cell scale must be a whole number of at least 1, got ${scale}`,
    })
  return { rows, columns, cellWidth: first.width * scale, cellHeight: first.height * scale, scale }
}

const rawOverlay = (image: LabelImage | RawImage, left: number, top: number): OverlayOptions => ({
  input: Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength),
  raw: { width: image.width, height: image.height, channels: "channels" in image ? image.channels : 4 },
  left: Math.round(left),
  top: Math.round(top),
})

const rectangle = (
  colour: Rgb,
  left: number,
  top: number,
  width: number,
  height: number,
): OverlayOptions => ({
  input: { create: { width, height, channels: 4, background: { ...colour, alpha: 1 } } },
  left,
  top,
})

/** The label's top-left part that fits in width × height (the label itself when it fits). */
const cropLabel = (label: LabelImage, width: number, height: number): LabelImage => {
  if (label.width <= width && label.height <= height) return label
  const w = Math.min(label.width, width)
  const h = Math.min(label.height, height)
  const data = Buffer.alloc(w * h * 4)
  for (let y = 0; y < h; y++) label.data.copy(data, y * w * 4, y * label.width * 4, (y * label.width + w) * 4)
  return { width: w, height: h, data }
}

/** Luminance decides whether a badge's text is black or white. */
const textOn = ({ r, g, b }: Rgb): Rgb => (0.299 * r + 0.587 * g + 0.114 * b > 150 ? black : white)

const markOverlays = async (
  mark: GridMark,
  origin: { left: number; top: number },
  layout: GridLayout,
  font: GridFont,
): Promise<OverlayOptions[]> => {
  const { cellWidth: w, cellHeight: h } = layout
  const t = Math.max(2, Math.round(Math.min(w, h) / 64))
  const { left, top } = origin
  const border = [
    rectangle(mark.colour, left, top, w, t),
    rectangle(mark.colour, left, top + h - t, w, t),
    rectangle(mark.colour, left, top + t, t, h - 2 * t),
    rectangle(mark.colour, left + w - t, top + t, t, h - 2 * t),
  ]
  if (mark.label === undefined) return border
  const size = Math.max(8, Math.round(layout.fontSize * 0.6))
  const text = await renderLabel(mark.label, { font, size, width: w - 4 * t, colour: textOn(mark.colour) })
  if (text === undefined) return border
  const pad = Math.max(2, Math.round(size / 4))
  const badgeWidth = Math.min(w - t, text.width + 2 * pad)
  const badgeHeight = Math.min(h - t, text.height + 2 * pad)
  return [
    ...border,
    rectangle(mark.colour, left + t, top + t, badgeWidth, badgeHeight),
    rawOverlay(cropLabel(text, badgeWidth - pad, badgeHeight - pad), left + t + pad, top + t + pad),
  ]
}

/**
 * Draws an A1111-style X/Y grid: cells row by row on white, column labels centred above each column,
 * row labels centred left of each row, font size `(cell width + cell height) // 25`, line spacing half
 * of it, a row-label band three quarters of a cell wide — plus an optional title and per-cell marks.
 * Small cells are enlarged first (see {@link GridSpec.scale}). Labels wrap between words (and CJK
 * characters): a column label too wide for its cell gets a smaller font, a row label's band widens.
 */
export const drawGrid = async (spec: GridSpec): Promise<GridImage> => {
  const { rows, columns, cellWidth, cellHeight, scale } = checkSpec(spec)
  const font = spec.font ?? defaultGridFont()
  const margin = spec.margin ?? 0
  const fontSize = Math.max(8, Math.floor((cellWidth + cellHeight) / 25))
  const lineSpacing = Math.floor(fontSize / 2)
  const style = { font, size: fontSize, colour: black }

  const columnLabels = await Promise.all(
    spec.xLabels.map(async (value) => {
      const text = axisLabel(spec.xTitle, value)
      const size = await sizeFittingWords(text, { ...style, width: cellWidth })
      return renderLabel(text, { ...style, size, width: cellWidth })
    }),
  )
  const rowTexts = spec.yLabels.map((value) => axisLabel(spec.yTitle, value))
  const hasRowLabels = rowTexts.some((text) => text.trim() !== "")
  const widestRowWord = Math.max(...(await Promise.all(rowTexts.map((text) => widestWord(text, style)))))
  const rowLabelWidth = hasRowLabels
    ? Math.max(Math.floor((cellWidth * 3) / 4), Math.min(widestRowWord + lineSpacing, 2 * cellWidth))
    : 0
  const rowLabels = await Promise.all(
    rowTexts.map(async (text) => {
      const wrap = { ...style, width: Math.max(1, rowLabelWidth - lineSpacing) }
      return renderFittedLabel(text, { ...wrap, size: await sizeFittingWords(text, wrap) }, cellHeight)
    }),
  )
  const gridWidth = columns * cellWidth + (columns - 1) * margin
  const title =
    spec.title === undefined
      ? undefined
      : await renderLabel(spec.title, { ...style, bold: true, width: rowLabelWidth + gridWidth })
  const tallest = Math.max(0, ...columnLabels.map((label) => label?.height ?? 0))
  const columnLabelHeight = tallest === 0 ? 0 : tallest + 2 * lineSpacing
  const titleHeight = title === undefined ? 0 : title.height + 2 * lineSpacing
  const layout: GridLayout = {
    width: rowLabelWidth + gridWidth,
    height: titleHeight + columnLabelHeight + rows * cellHeight + (rows - 1) * margin,
    scale,
    cellWidth,
    cellHeight,
    margin,
    titleHeight,
    columnLabelHeight,
    rowLabelWidth,
    fontSize,
  }

  const overlays: OverlayOptions[] = []
  if (title !== undefined) {
    const fitted = cropLabel(title, layout.width, title.height)
    overlays.push(rawOverlay(fitted, (layout.width - fitted.width) / 2, lineSpacing))
  }
  columnLabels.forEach((label, column) => {
    if (label === undefined) return
    const { left } = cellOrigin(layout, 0, column)
    const fitted = cropLabel(label, cellWidth, columnLabelHeight)
    overlays.push(
      rawOverlay(
        fitted,
        left + (cellWidth - fitted.width) / 2,
        titleHeight + (columnLabelHeight - fitted.height) / 2,
      ),
    )
  })
  rowLabels.forEach((label, row) => {
    if (label === undefined) return
    const { top } = cellOrigin(layout, row, 0)
    const fitted = cropLabel(label, rowLabelWidth, cellHeight)
    overlays.push(
      rawOverlay(fitted, (rowLabelWidth - fitted.width) / 2, top + (cellHeight - fitted.height) / 2),
    )
  })
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const origin = cellOrigin(layout, row, column)
      const cell = spec.cells[row]![column]!
      if (cell !== null) overlays.push(rawOverlay(enlargeCell(cell, scale), origin.left, origin.top))
      const mark = spec.marks?.[row]?.[column]
      if (mark !== undefined) overlays.push(...(await markOverlays(mark, origin, layout, font)))
    }
  }
  const png = await sharp({
    create: { width: layout.width, height: layout.height, channels: 3, background: white },
  })
    .composite(overlays)
    .removeAlpha()
    .png()
    .toBuffer()
  return { png: new Uint8Array(png.buffer, png.byteOffset, png.byteLength), layout }
}
