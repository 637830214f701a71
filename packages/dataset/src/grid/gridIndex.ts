import { join } from "node:path"
import { writeFileAtomic } from "../io/atomicWrite.js"

export interface GridAxis {
  readonly title: string
  readonly values: ReadonlyArray<string>
}

/** One cell of a sheet: its position, its image file and what the diagnosis said about it. */
export interface GridIndexCell {
  /** Column (X value index) and row (Y value index). */
  readonly x: number
  readonly y: number
  /** The cell's PNG, relative to the index file; absent while the cell is not made yet. */
  readonly file?: string
  /** Short verdict shown on the cell, e.g. "good", "over", "broken". */
  readonly verdict?: string
  /** CSS colour of the verdict's border, e.g. "#16a34a". */
  readonly colour?: string
  /** A sentence or two: why the verdict, which training image it resembles. */
  readonly note?: string
  /** The cell's A1111 `parameters` text. */
  readonly parameters?: string
  /** Numbers behind the verdict (effect strength, nearest-training distance, …). */
  readonly measures?: Readonly<Record<string, number | string | null>>
}

/** One X × Y grid: a single Z value. */
export interface GridSheet {
  /** The Z value this sheet shows; absent when the grid has no Z axis. */
  readonly z?: string
  /** The labelled grid PNG, relative to the index file. */
  readonly image?: string
  readonly cells: ReadonlyArray<GridIndexCell>
}

/** What `index.json` holds and `index.html` shows. */
export interface GridIndex {
  readonly title?: string
  readonly x: GridAxis
  readonly y: GridAxis
  readonly z?: GridAxis
  readonly sheets: ReadonlyArray<GridSheet>
  /** Lines printed above the sheets: the recommendation and the remedies. */
  readonly summary?: ReadonlyArray<string>
}

const escapeHtml = (text: string) =>
  text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;")

// File names are written by danlu, but a user's LoRA name ends up in them: keep them inert in a URL.
const href = (path: string) => escapeHtml(path.split("/").map(encodeURIComponent).join("/"))

const axisValue = (axis: GridAxis, value: string) => (axis.title === "" ? value : `${axis.title}: ${value}`)

const cellHtml = (cell: GridIndexCell | undefined): string => {
  if (cell === undefined) return `<td class="missing">not made</td>`
  const border = cell.colour === undefined ? "" : ` style="border-color:${escapeHtml(cell.colour)}"`
  const image =
    cell.file === undefined
      ? `<div class="missing">not made</div>`
      : `<a href="${href(cell.file)}"><img src="${href(cell.file)}" alt="" loading="lazy"${
          cell.parameters === undefined ? "" : ` title="${escapeHtml(cell.parameters)}"`
        }></a>`
  const verdict = cell.verdict === undefined ? "" : `<div class="verdict">${escapeHtml(cell.verdict)}</div>`
  const note = cell.note === undefined ? "" : `<div class="note">${escapeHtml(cell.note)}</div>`
  return `<td${border}>${image}${verdict}${note}</td>`
}

const sheetHtml = (index: GridIndex, sheet: GridSheet): string => {
  const byPosition = new Map(sheet.cells.map((cell) => [`${cell.x},${cell.y}`, cell]))
  const heading =
    sheet.z === undefined || index.z === undefined
      ? ""
      : `<h2>${escapeHtml(axisValue(index.z, sheet.z))}</h2>`
  const grid =
    sheet.image === undefined ? "" : `<p><a href="${href(sheet.image)}">the grid as one image</a></p>`
  const head = `<tr><th></th>${index.x.values.map((v) => `<th>${escapeHtml(axisValue(index.x, v))}</th>`).join("")}</tr>`
  const rows = index.y.values.map(
    (v, y) =>
      `<tr><th>${escapeHtml(axisValue(index.y, v))}</th>${index.x.values
        .map((_, x) => cellHtml(byPosition.get(`${x},${y}`)))
        .join("")}</tr>`,
  )
  return `<section>${heading}${grid}<table>${head}${rows.join("")}</table></section>`
}

const style = `body{font-family:system-ui,"Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif;margin:1.5em}
table{border-collapse:separate;border-spacing:6px}th{font-weight:600;padding:4px}
td{vertical-align:top;border:4px solid transparent;padding:2px;max-width:256px}
img{max-width:256px;min-width:128px;image-rendering:pixelated;display:block}.verdict{font-weight:600}.note{font-size:.85em;color:#444}
.missing{color:#999;font-style:italic}`

/** A self-contained static page showing every sheet as a table of cell images with their verdicts. */
export const gridPageHtml = (index: GridIndex): string => {
  const title = escapeHtml(index.title ?? "danlu grid")
  const summary =
    index.summary === undefined || index.summary.length === 0
      ? ""
      : `<ul>${index.summary.map((line) => `<li>${escapeHtml(line)}</li>`).join("")}</ul>`
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title><style>${style}</style></head>
<body><h1>${title}</h1>${summary}
${index.sheets.map((sheet) => sheetHtml(index, sheet)).join("\n")}
</body></html>
`
}

/** Writes `index.json` and `index.html` into `dir`, each atomically; returns their paths. */
export const writeGridIndex = async (dir: string, index: GridIndex) => {
  const json = join(dir, "index.json")
  const html = join(dir, "index.html")
  await writeFileAtomic(json, `${JSON.stringify(index, null, 2)}\n`)
  await writeFileAtomic(html, gridPageHtml(index))
  return { json, html }
}
