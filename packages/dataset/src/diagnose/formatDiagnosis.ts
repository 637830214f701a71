import type { GridVerdict } from "./verdict.js"

const pad = (text: string, width: number) => text + " ".repeat(Math.max(0, width - [...text].length))

/**
 * The grid's verdict for a terminal: a table of epochs (rows) by weights (columns), the
 * recommendation, the guide's remedies (English and the guide's Chinese) and the notes.
 */
export const formatGridVerdict = (verdict: GridVerdict): string => {
  const epochs = [...new Set(verdict.settings.map((s) => s.epoch))].sort((a, b) => a - b)
  const weights = [...new Set(verdict.settings.map((s) => s.weight))].sort((a, b) => a - b)
  const at = new Map(verdict.settings.map((s) => [`${s.epoch}/${s.weight}`, s]))
  const cell = (epoch: number, weight: number) => {
    const setting = at.get(`${epoch}/${weight}`)
    if (setting === undefined) return "-"
    const effect = setting.medianEffect === undefined ? "" : ` ${setting.medianEffect.toFixed(2)}`
    return `${setting.verdict}${effect}`
  }
  const width = 13
  const lines = [
    [pad("epoch", 7), ...weights.map((w) => pad(`w ${w}`, width))].join("").trimEnd(),
    ...epochs.map((e) =>
      [pad(String(e), 7), ...weights.map((w) => pad(cell(e, w), width))].join("").trimEnd(),
    ),
  ]
  const r = verdict.recommendation
  if (r !== undefined)
    lines.push(
      "",
      `${r.good ? "recommended" : "least bad"}: epoch ${r.epoch} at weight ${r.weight} — ${r.reason}`,
    )
  if (verdict.remedies.length > 0)
    lines.push(`remedies: ${verdict.remedies.map((remedy) => `${remedy.en} (${remedy.zh})`).join("; ")}`)
  for (const note of verdict.notes) lines.push(`note: ${note}`)
  return lines.join("\n")
}
