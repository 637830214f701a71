import sharp from "sharp"

/** One bar: a workload's median time on one backend. */
export interface ChartBar {
  readonly workload: string
  /** The legend's label: the backend and its device. */
  readonly backend: string
  readonly ms: number
}

const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"]

export const formatMs = (ms: number): string =>
  ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`

/**
 * Horizontal bars grouped by workload, one colour per backend; each workload is scaled to its slowest
 * backend (the workloads differ by orders of magnitude), and every bar carries its time.
 */
export const benchChartSvg = (title: string, bars: ReadonlyArray<ChartBar>): string => {
  const workloads = [...new Set(bars.map((b) => b.workload))]
  const backends = [...new Set(bars.map((b) => b.backend))]
  const width = 760
  const left = 170
  const barHeight = 18
  const rowGap = 4
  const groupGap = 18
  const top = 56
  const plot = width - left - 110
  let y = top
  const parts: Array<string> = []
  for (const workload of workloads) {
    const group = bars.filter((b) => b.workload === workload)
    const slowest = Math.max(...group.map((b) => b.ms))
    parts.push(`<text x="12" y="${y + barHeight - 4}" font-weight="bold">${escapeXml(workload)}</text>`)
    for (const bar of group) {
      const length = Math.max(1, (bar.ms / slowest) * plot)
      const colour = palette[backends.indexOf(bar.backend) % palette.length]
      parts.push(
        `<rect x="${left}" y="${y}" width="${length.toFixed(1)}" height="${barHeight}" fill="${colour}"/>`,
        `<text x="${left + length + 6}" y="${y + barHeight - 4}">${escapeXml(formatMs(bar.ms))}</text>`,
      )
      y += barHeight + rowGap
    }
    y += groupGap
  }
  const legend = backends
    .map((backend, i) => {
      const at = y + i * 20
      return `<rect x="12" y="${at}" width="12" height="12" fill="${palette[i % palette.length]}"/><text x="30" y="${at + 11}">${escapeXml(backend)}</text>`
    })
    .join("")
  const height = y + backends.length * 20 + 12
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="12" y="24" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="12" y="44" fill="#555">median time per run; shorter is faster; each workload scaled to its slowest backend</text>`,
    ...parts,
    legend,
    "</svg>",
  ].join("")
}

/** The chart as PNG bytes. */
export const benchChartPng = async (title: string, bars: ReadonlyArray<ChartBar>): Promise<Uint8Array> =>
  new Uint8Array(
    await sharp(Buffer.from(benchChartSvg(title, bars)))
      .png()
      .toBuffer(),
  )
